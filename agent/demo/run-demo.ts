import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describeError, VigilError } from '../../shared/errors.js';
import { createLogger } from '../../shared/logger.js';
import { loadConfig } from '../config/load.js';
import { startAgent, type RunningAgent } from '../service/start-agent.js';
import { onShutdownSignal } from '../service/signals.js';
import { DEMO_NAMESPACE_URI, PUMP_SIGNALS, startOpcuaPlant } from './opcua-plant.js';
import { startMqttPlant } from './mqtt-plant.js';
import { demoAgentYaml, demoMqttTagsYaml, demoOpcuaTagsCsv } from './demo-config.js';

export interface DemoOptions {
  data: string;
  port: number;
  duration: number;
}

/**
 * `vigil demo`: a simulated plant and an agent reading it, in one process.
 * The agent is configured through real files (YAML + CSV tag files) written
 * into the demo's data folder, so what runs here is what OT staff would write.
 */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const log = createLogger({ level: process.env.VIGIL_LOG_LEVEL ?? 'info' });
  const dataDir = resolve(opts.data);
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });

  const pumps = 3;
  const opcua = await startOpcuaPlant({ port: 0, pumps });
  const mqtt = await startMqttPlant({ port: 0 });
  log.info({ opcua: opcua.endpoint, mqtt: mqtt.url }, 'simulated plant running');

  const configFile = join(dataDir, 'agent.yaml');
  writeFileSync(join(dataDir, 'tags-opcua.csv'), demoOpcuaTagsCsv(pumps, PUMP_SIGNALS, DEMO_NAMESPACE_URI));
  writeFileSync(join(dataDir, 'tags-mqtt.yaml'), demoMqttTagsYaml());

  let agent: RunningAgent | undefined;
  for (const port of opts.port === 0 ? [0] : [opts.port, 0]) {
    writeFileSync(configFile, demoAgentYaml({ opcuaEndpoint: opcua.endpoint, mqttUrl: mqtt.url, httpPort: port }));
    try {
      agent = await startAgent(await loadConfig(configFile), log);
      break;
    } catch (err) {
      if (err instanceof VigilError && err.code === 'VIGIL_HTTP_LISTEN_FAILED' && port !== 0) {
        log.warn(`port ${port} is taken; using a free port instead`);
        continue;
      }
      log.fatal({ err: describeError(err) }, 'demo could not start');
      await Promise.allSettled([opcua.stop(), mqtt.stop()]);
      return 1;
    }
  }
  if (!agent) return 1;

  const url = agent.httpUrl;
  process.stdout.write(
    [
      '',
      'Vigil demo is running: a simulated pump station (OPC UA) and a packaging line (MQTT: JSON, plain numbers, Sparkplug B).',
      `  Every tag, live:      ${url}/tags?format=text   (JSON: ${url}/tags)`,
      `  Health:               ${url}/healthz`,
      `  Prometheus metrics:   ${url}/metrics`,
      `  Configuration used:   ${configFile}  (check it: npm run vigil -- check ${configFile})`,
      `  OPC UA server:        ${opcua.endpoint}  (browse it: npm run vigil -- browse ${opcua.endpoint} --depth 4)`,
      `  MQTT broker:          ${mqtt.url}`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );

  const signalled = onShutdownSignal(log);
  await (opts.duration > 0 ? Promise.race([signalled, new Promise((r) => setTimeout(r, opts.duration * 1000).unref())]) : signalled);
  await agent.stop();
  await Promise.allSettled([mqtt.stop(), opcua.stop()]);
  return 0;
}
