import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describeError, VigilError } from '../../shared/errors.js';
import { createLogger } from '../../shared/logger.js';
import { loadConfig } from '../config/load.js';
import { startAgent, type RunningAgent } from '../service/start-agent.js';
import { onShutdownSignal } from '../service/signals.js';
import { DEMO_NAMESPACE_URI, PUMP_SIGNALS, startOpcuaPlant } from './opcua-plant.js';
import { startMqttPlant } from './mqtt-plant.js';
import { demoAgentYaml, demoMqttTagsYaml, demoOpcuaTagsCsv } from './demo-config.js';
import { DEMO_USER, startDemoHub } from './demo-hub.js';
import { DEMO_MODEL, trainAndDeployBaseline } from './demo-baseline.js';
import { resetDemoFolder } from './demo-folder.js';
import { scheduleFaults } from './fault-schedule.js';

export interface DemoOptions {
  data: string;
  port: number;
  /** Port of the hub and its web app; 0 = any free port. */
  hubPort: number;
  duration: number;
  /** Seconds of simulated normal operation the baseline model learns from. */
  trainAfter: number;
  /** Seconds between injected faults (after the model is deployed). */
  faultEvery: number;
  /** Seconds each fault lasts. */
  faultFor: number;
}

const AGENT_ID = 'demo-gateway';
/** The pumps change every 200 ms and the agent samples them as often: enough windows to learn from in a minute. */
const PLANT_PERIOD_MS = 200;

/**
 * `vigil demo`: a simulated plant, a hub with its web app, and an agent reading
 * the plant and syncing with the hub, in one process. After `trainAfter`
 * seconds the hub learns pump 1's normal behaviour from the agent's history and
 * deploys the model to the agent; then pump 1 cavitates now and then, so
 * episodes reach the web app. Everything is configured through real files in
 * the demo's data folder, so what runs here is what a real installation writes.
 */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const log = createLogger({ level: process.env.VIGIL_LOG_LEVEL ?? 'info' });
  const say = (line: string) => process.stdout.write(`[demo] ${line}\n`);
  if (opts.faultFor >= opts.faultEvery) {
    process.stderr.write(`--fault-for (${opts.faultFor} s) must be shorter than --fault-every (${opts.faultEvery} s)\n`);
    return 2;
  }
  const dataDir = resolve(opts.data);
  const refused = resetDemoFolder(dataDir);
  if (refused) {
    process.stderr.write(`vigil demo: ${refused}\n`);
    return 1;
  }
  const pumps = 3;
  // Undone in reverse order on any exit path.
  const stops: Array<() => Promise<unknown> | unknown> = [];
  const stopAll = async () => {
    for (const step of stops.reverse()) await Promise.resolve().then(step).catch((err: unknown) => log.error({ err: describeError(err) }, 'demo: a part failed to stop'));
  };

  let agent: RunningAgent | undefined;
  try {
    // Steady pumps until the baseline is learnt: a stop inside the training period would be learnt as
    // normal and widen the thresholds past what a cavitation does. Random stops start once it is deployed.
    const opcua = await startOpcuaPlant({ port: 0, pumps, updateIntervalMs: PLANT_PERIOD_MS, randomStops: false });
    stops.push(() => opcua.stop());
    const mqtt = await startMqttPlant({ port: 0 });
    stops.push(() => mqtt.stop());
    log.info({ opcua: opcua.endpoint, mqtt: mqtt.url }, 'simulated plant running');

    const hub = await startDemoHub({ dataDir, port: opts.hubPort, agentId: AGENT_ID, log });
    stops.push(() => hub.hub.stop());

    const configFile = join(dataDir, 'agent.yaml');
    writeFileSync(join(dataDir, 'tags-opcua.csv'), demoOpcuaTagsCsv(pumps, PUMP_SIGNALS, DEMO_NAMESPACE_URI, PLANT_PERIOD_MS));
    writeFileSync(join(dataDir, 'tags-mqtt.yaml'), demoMqttTagsYaml());
    const hubSection = { url: hub.hub.url.replace(/^http/, 'ws'), tokenFile: hub.tokenFile, publicKeyFile: hub.publicKeyFile };
    for (const port of opts.port === 0 ? [0] : [opts.port, 0]) {
      writeFileSync(configFile, demoAgentYaml({ opcuaEndpoint: opcua.endpoint, mqttUrl: mqtt.url, httpPort: port, publishingIntervalMs: PLANT_PERIOD_MS, hub: hubSection }));
      try {
        agent = await startAgent(await loadConfig(configFile), log);
        break;
      } catch (err) {
        if (err instanceof VigilError && err.code === 'VIGIL_HTTP_LISTEN_FAILED' && port !== 0) {
          log.warn(`port ${port} is taken; using a free port instead`);
          continue;
        }
        throw err;
      }
    }
    if (!agent) throw new VigilError('VIGIL_HTTP_LISTEN_FAILED', 'the demo agent could not start');
    const running = agent;
    stops.push(() => running.stop());

    const url = agent.httpUrl;
    const hubUrl = hub.hub.url;
    process.stdout.write(
      [
        '',
        'Vigil demo is running: a simulated pump station (OPC UA) and a packaging line (MQTT: JSON, plain numbers, Sparkplug B),',
        'an agent reading both, and a hub with its web app.',
        `  Web app:              ${hubUrl}/`,
        `  Login:                user ${DEMO_USER}, password ${hub.password}   (made for this run; shown once)`,
        `  Every tag, live:      ${url}/tags?format=text   (JSON: ${url}/tags)`,
        `  Health:               ${url}/healthz`,
        `  Prometheus metrics:   ${url}/metrics`,
        `  Configuration used:   ${configFile}  (check it: npm run vigil -- check ${configFile})`,
        `  Hub configuration:    ${join(dataDir, 'hub.yaml')}`,
        `  OPC UA server:        ${opcua.endpoint}  (browse it: npm run vigil -- browse ${opcua.endpoint} --depth 4)`,
        `  MQTT broker:          ${mqtt.url}`,
        'Press Ctrl-C to stop.',
        '',
      ].join('\n'),
    );

    const startedAt = Date.now();
    say(`training pump 1's baseline in ${opts.trainAfter} s (learning from the simulation's normal operation until then)`);
    let stopped = false;
    const trainTimer = setTimeout(() => {
      void (async () => {
        try {
          const version = await trainAndDeployBaseline({ hubUrl, apiToken: hub.apiToken, agent: AGENT_ID, from: startedAt, to: Date.now(), samplePeriodMs: PLANT_PERIOD_MS });
          if (stopped) return;
          say(`model ${DEMO_MODEL}@${version} trained on the hub and deployed to ${AGENT_ID}`);
          // From now on pumps also stop and restart by themselves, as real ones do: episodes to answer "normal operation".
          opcua.setRandomStops(true);
          const faults = scheduleFaults({ everyS: opts.faultEvery, durationS: opts.faultFor, inject: (ms) => opcua.injectFault(1, ms), say });
          stops.push(() => faults.stop());
          say(`first fault in ${opts.faultEvery} s; episodes appear in the web app`);
        } catch (err) {
          if (!stopped) say(`training or deploying the baseline failed: ${describeError(err)}`);
        }
      })();
    }, opts.trainAfter * 1000);
    stops.push(() => {
      stopped = true;
      clearTimeout(trainTimer);
    });

    const signalled = onShutdownSignal(log);
    await (opts.duration > 0 ? Promise.race([signalled, new Promise((r) => setTimeout(r, opts.duration * 1000).unref())]) : signalled);
    say('stopping');
    await stopAll();
    return 0;
  } catch (err) {
    log.fatal({ err: describeError(err) }, 'demo could not start');
    await stopAll();
    return 1;
  }
}
