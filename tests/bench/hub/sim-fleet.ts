import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { FleetFile, FromFleet, ToFleet, WindowReport } from './fleet-messages.js';
import { SimAgent } from './sim-agent.js';

/**
 * Role process for bench:hub: a share of the simulated fleet, each agent its
 * own websocket to its replica (see sim-agent.ts). In its own process so the
 * hubs' CPU is the hubs'. It runs the load phases the orchestrator asks for
 * and measures acks itself: records acked and per-batch ack latency inside
 * each phase's window.
 *
 * argv: <fleet.json (FleetFile)>
 * IPC in: ToFleet. IPC out: FromFleet.
 */

const file = process.argv[2];
if (!file) throw new Error('usage: sim-fleet <fleet.json>');
const fleet = JSON.parse(readFileSync(file, 'utf8')) as FleetFile;
const send = (message: FromFleet) => process.send?.(message);

/** The open window, if any: acks are counted only while it is. */
let window: { records: number; latenciesMs: number[]; lastAckAt: number } | undefined;
/** Any ack, in or out of a window: a settle with no progress for STALL_MS gives up. */
let lastAckAt = performance.now();
const STALL_MS = 30_000;

const agents = fleet.agents.map(
  (agent) =>
    new SimAgent(agent, fleet.publicKeyPem, fleet.batchRecords, fleet.inFlightBatches, {
      acked: (records, latencyMs) => {
        lastAckAt = performance.now();
        if (!window) return;
        window.records += records;
        window.latenciesMs.push(latencyMs);
        window.lastAckAt = performance.now();
      },
      active: (deployment) => send({ active: agent.id, deployment }),
      problem: (what) => send({ problem: what, agent: agent.id }),
    }),
);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const outstanding = () => agents.reduce((sum, a) => sum + a.outstanding, 0);
const disconnected = () => agents.filter((a) => !a.connected).length;

/** Until nothing is in flight or due (at most `limitMs`, or until no ack came for STALL_MS); how long that took, ms. */
async function settle(limitMs: number): Promise<number> {
  const started = performance.now();
  lastAckAt = Math.max(lastAckAt, started);
  while (outstanding() > 0 && performance.now() - started < limitMs && performance.now() - lastAckAt < STALL_MS) await sleep(20);
  return performance.now() - started;
}

function openWindow(): NonNullable<typeof window> {
  window = { records: 0, latenciesMs: [], lastAckAt: performance.now() };
  return window;
}

/** Drain: every slot busy; after the window, what is in flight is acked inside it (the window ends at the last ack). */
async function runDrain(warmupMs: number, windowMs: number): Promise<WindowReport> {
  agents.forEach((a) => a.drain(Number.POSITIVE_INFINITY));
  await sleep(warmupMs);
  const measured = openWindow();
  const begin = performance.now();
  await sleep(windowMs);
  agents.forEach((a) => a.drain(0));
  await settle(180_000);
  window = undefined;
  return { seconds: (measured.lastAckAt - begin) / 1000, records: measured.records, latenciesMs: measured.latenciesMs, settleMs: 0, unsettled: outstanding(), disconnected: disconnected() };
}

/** Steady load: each agent's batches fall due on its own fixed schedule (random phase), however the hub keeps up. */
async function runSteady(batchesPerSecond: number, warmupMs: number, windowMs: number): Promise<WindowReport> {
  const periodMs = 1000 / batchesPerSecond;
  const started = performance.now();
  const nextDue = agents.map(() => started + Math.random() * periodMs);
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    const now = performance.now();
    agents.forEach((agent, i) => {
      while (nextDue[i]! <= now) {
        agent.addDue(nextDue[i]!);
        nextDue[i]! += periodMs;
      }
    });
    timer = setTimeout(tick, 5);
  };
  tick();
  await sleep(warmupMs);
  const measured = openWindow();
  const begin = performance.now();
  await sleep(windowMs);
  window = undefined;
  const seconds = (performance.now() - begin) / 1000;
  clearTimeout(timer);
  // The next phase starts from quiet hubs: wait for what is still due or in flight.
  const settleMs = await settle(60_000);
  return { seconds, records: measured.records, latenciesMs: measured.latenciesMs, settleMs, unsettled: outstanding(), disconnected: disconnected() };
}

// Connect in waves of 100: a thousand gateways do not all open their sockets in the same millisecond.
let connected = 0;
for (let i = 0; i < agents.length; i += 100) {
  const results = await Promise.all(agents.slice(i, i + 100).map((a) => a.connect()));
  connected += results.filter(Boolean).length;
}
send({ connected, failures: agents.length - connected });

process.on('message', (m: ToFleet) => {
  if ('run' in m) {
    const phase = m.run;
    const report = phase.mode === 'drain' ? runDrain(phase.warmupMs, phase.windowMs) : runSteady(phase.batchesPerSecond, phase.warmupMs, phase.windowMs);
    void report.then((r) => send({ window: r }));
  } else if (m.stop) {
    const ackedRecords = agents.reduce((sum, a) => sum + a.ackedRecords, 0);
    agents.forEach((a) => a.close());
    const answer: FromFleet = { stopped: { ackedRecords } };
    process.send?.(answer, () => process.exit(0));
  }
});
