import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { connectAsync } from 'mqtt';
import { runMqtt, type MqttRun, type MqttTiming, type Subject } from './ingest/mqtt-phase.js';
import { BROKER_HOST, BROKER_PORT, MQTT_PROFILES } from './ingest/mqtt-traffic.js';
import { runOpcuaPhase, type OpcuaPhase, type OpcuaTiming } from './ingest/opcua-phase.js';
import { findProcessPid } from './ingest/process-cpu.js';
import { mqttTable, opcuaTable, summarize } from './ingest/report.js';
import type { RoleOptions } from './ingest/role-process.js';

/**
 * `npm run bench:ingest`: the agent's MQTT and OPC UA ingestion against bare
 * clients on the same broker/server and traffic, each subject in its own
 * process. Prints a table, the targets (MISS lines for misses), and ends with
 * one `RESULT {…}` line. Exits non-zero only when something crashed; a missed
 * target is a finding, reported in `targets_met`.
 *
 * Options: --quick (short windows, for trying the harness), --only mqtt|opcua,
 * --reps N (alternating bare/agent pairs per MQTT profile, default 3),
 * --opcua-items N (default 10000), --opcua-items-per-subscription N (agent
 * override; default: the schema's default), --cpu-prof (CPU profile of each measured child's window into tests/bench/profiles/).
 */

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    reps: { type: 'string', default: '3' },
    'opcua-items': { type: 'string', default: '10000' },
    'opcua-items-per-subscription': { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
  },
});

const mqttTiming: MqttTiming = opts.quick ? { warmupMs: 1500, windowMs: 3000 } : { warmupMs: 2000, windowMs: 6000 };
const opcuaTiming: OpcuaTiming = opts.quick ? { settleMs: 1000, windowMs: 5000 } : { settleMs: 3000, windowMs: 30_000 };
const reps = Math.max(1, Number(opts.reps));
const opcuaItems = Number(opts['opcua-items']);
const perSubscription = opts['opcua-items-per-subscription'] === undefined ? undefined : Number(opts['opcua-items-per-subscription']);

async function checkBroker(): Promise<void> {
  try {
    const client = await connectAsync(`mqtt://${BROKER_HOST}:${BROKER_PORT}`, { connectTimeout: 3000, reconnectPeriod: 0, clientId: `bench-probe-${process.pid}` });
    await client.endAsync();
  } catch (err) {
    throw new BrokerMissing(
      `No MQTT broker answers on ${BROKER_HOST}:${BROKER_PORT} (${err instanceof Error ? err.message : String(err)}). ` +
        'The benchmark needs the local Mosquitto: start it (e.g. `mosquitto -d`) or run with --only opcua.',
    );
  }
}

class BrokerMissing extends Error {}

/** With --cpu-prof, the measured children profile their window (only) into tests/bench/profiles/. */
function profileOptions(name: string): RoleOptions {
  if (!opts['cpu-prof']) return {};
  const dir = join(import.meta.dirname, 'profiles');
  mkdirSync(dir, { recursive: true });
  return { env: { BENCH_PROFILE_DIR: dir, BENCH_PROFILE_NAME: name } };
}

async function main(): Promise<void> {
  const started = performance.now();
  const run = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const doMqtt = opts.only === undefined || opts.only === 'mqtt';
  const doOpcua = opts.only === undefined || opts.only === 'opcua';
  console.log(`Vigil ingest benchmark — run ${run}; node ${process.version}; ${cpus().length} CPUs; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  const mqttRuns: MqttRun[] = [];
  if (doMqtt) {
    await checkBroker();
    const brokerPid = findProcessPid('mosquitto', '/run/mosquitto/mosquitto.pid');
    console.log(
      `\nMQTT — Mosquitto ${BROKER_HOST}:${BROKER_PORT}; QoS 0 flood (publisher and subscriptions) from a raw-socket publisher with pre-encoded packets; ` +
        `warm-up ${mqttTiming.warmupMs / 1000} s, window ${mqttTiming.windowMs / 1000} s; ${reps} alternating bare/agent pair(s) per profile, * = best of each.\n` +
        '  single: {"value":…,"ts":…} on 1,000 topics bench/<run>/line/<n>/pump/<m>/temp; agent: one template tag line{3}.pump{5}.temp.\n' +
        '  batched: JSON arrays of 20 {"name","value","ts"} objects on 50 topics; agent: one tag batch.{name} with json.name; bare samples = messages × 20.',
    );
    for (const profile of MQTT_PROFILES) {
      for (let rep = 0; rep < reps; rep++) {
        // Alternate the order so that neither subject always runs first after a change of load.
        const order: Subject[] = rep % 2 === 0 ? ['bare', 'agent'] : ['agent', 'bare'];
        for (const subject of order) {
          mqttRuns.push(await runMqtt(profile, subject, `${run}${profile[0]}${rep}`, mqttTiming, brokerPid, profileOptions(`mqtt-${profile}-${subject}-${rep}`)));
        }
      }
    }
    console.log(`\n${mqttTable(mqttRuns)}`);
    for (const r of mqttRuns.filter((x) => x.check)) {
      const c = r.check!;
      console.log(
        `  agent ${r.profile}: ${c.messages.toLocaleString('en-US')} messages → ${c.pipelineReceived.toLocaleString('en-US')} samples offered to the pipeline → ` +
          `${c.pipelineEmitted.toLocaleString('en-US')} out of the pipeline (refused ${c.pipelineDropped.toLocaleString('en-US')}) → ${c.tagTableSamples.toLocaleString('en-US')} in the tag table; ` +
          `${c.tagsSeen}/${c.tagsExpected} tags, ${c.valueMismatches} wrong values${c.problems.length ? `; ${c.problems.join('; ')}` : ''}`,
      );
    }
  }

  let opcua: OpcuaPhase | undefined;
  if (doOpcua) {
    console.log(
      `\nOPC UA — ${opcuaItems.toLocaleString('en-US')} Double variables changing every 1 s (demo plant, own process); sampling 1000 ms, publishing 1000 ms, queue 1, security None; ` +
        `window ${opcuaTiming.windowMs / 1000} s after every item delivered once + ${opcuaTiming.settleMs / 1000} s.\n` +
        `  bare: one session, one subscription, no-op counting handler; agent: OpcuaSource (${perSubscription ?? 'default'} items per subscription) → SamplePipeline → TagTable.`,
    );
    opcua = await runOpcuaPhase(opcuaItems, ['bare', 'agent'], opcuaTiming, (subject) => profileOptions(`opcua-${subject}`), perSubscription);
    console.log(`  server start ${opcua.serverStartSeconds.toFixed(1)} s\n\n${opcuaTable(opcua)}`);
    const check = opcua.runs.find((r) => r.check)?.check;
    if (check) {
      console.log(
        `  agent: ${check.notifications.toLocaleString('en-US')} notifications → ${check.pipelineEmitted.toLocaleString('en-US')} samples out of the pipeline (refused ${check.pipelineDropped}); ` +
          `${check.tagsWithData}/${opcuaItems} tags with data; gaps ${check.gaps}${check.problems.length ? `; ${check.problems.join('; ')}` : ''}`,
      );
    }
  }

  const summary = summarize(mqttRuns, opcua);
  console.log('\nTargets');
  for (const v of summary.verdicts) console.log(`${v.ok ? 'OK  ' : 'MISS'} ${v.text}`);
  for (const n of summary.notes) console.log(`NOTE ${n}`);
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(0)} s)`);
  console.log(`RESULT ${JSON.stringify(summary.result)}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    if (err instanceof BrokerMissing) console.error(`bench:ingest: ${err.message}`);
    else console.error('bench:ingest crashed:', err);
    process.exit(1);
  },
);
