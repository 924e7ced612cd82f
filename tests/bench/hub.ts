import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { runSetup, type SetupOptions, type SetupResult } from './hub/run-setup.js';
import { Teardown } from './hub/teardown.js';

/**
 * `npm run bench:hub`: two hub replicas on PostgreSQL against one hub on
 * LMDB, in one run, with the same simulated fleet (--agents agents in two
 * role processes, the real protocol over ws; agent i talks to replica i mod 2):
 *
 * 1. drain: every agent keeps --in-flight batches of --batch records unacked
 *    (a fleet's backlog after an outage); after --warmup s a window opens,
 *    agents stop sending new batches --window s later, and the window closes
 *    at the last ack of what was in flight: records acked per second in it is
 *    the set-up's ingest capacity; CPU per record of the hubs, PostgreSQL and
 *    the sims;
 * 2. steady: an open-loop load both set-ups can carry (--steady-share of the
 *    lower drain rate; the replicas run first, so the single hub gets the
 *    same load unless it is the slower), each agent's batches due on a fixed
 *    schedule: p50/p99 from when a batch was due to its ack;
 * 3. a model version pushed and deployed by label to every agent on ONE
 *    replica (replica-a): time until every agent downloaded it, checked the
 *    signature, reported active and the hub says completed (in the replicas
 *    set-up half of them hear of it through the other replica);
 * 4. the storage holds at least every record the sims saw acked.
 *
 * The ceiling here is the single hub: `ratio_vs_single` = replicas ÷ single
 * drain rate.
 */

const { values: opts } = parseArgs({
  options: {
    agents: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '100' },
    'in-flight': { type: 'string', default: '4' },
    warmup: { type: 'string', default: '3' },
    window: { type: 'string', default: '15' },
    'steady-window': { type: 'string', default: '10' },
    'steady-share': { type: 'string', default: '0.5' },
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});
const quick = opts.quick;
const agents = quick ? 200 : Number(opts.agents);
const seconds = (flag: string, quickValue: number) => (quick ? quickValue : Number(flag)) * 1000;
const only = opts.only;
if (only !== undefined && only !== 'single' && only !== 'replicas') throw new Error('--only single|replicas');

const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const loadStart = load();
console.log(`bench:hub — ${agents} agents, ${opts.batch} records/batch, ${opts['in-flight']} in flight; ${cpus().length} cores; load average at start ${loadStart}`);
console.log('caveat: the replicas, PostgreSQL and the simulated fleet share the same cores; two replicas cannot add CPU here, only show what coordination through PostgreSQL costs.');

const teardown = new Teardown();
teardown.onSignals();
const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-hub-'));
teardown.add('temp folder', () => rmSync(dir, { recursive: true, force: true }));

const base = (name: string): Omit<SetupOptions, 'replicas'> => ({
  name,
  agents,
  roles: 2,
  batchRecords: Number(opts.batch),
  inFlightBatches: Number(opts['in-flight']),
  warmupMs: seconds(opts.warmup, 2),
  drainWindowMs: seconds(opts.window, 5),
  steadyWindowMs: seconds(opts['steady-window'], 4),
  steadyShare: Number(opts['steady-share']),
  steadyCeiling: undefined,
  deployTimeoutMs: 90_000,
  teardown,
  log: (line) => console.log(line),
});

/** A throwaway database for the replicas; dropped (connections and all) by the teardown. */
async function createDatabase(): Promise<string> {
  const name = `vigil_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  teardown.add(`database ${name}`, async () => {
    const client = new pg.Client({ connectionString: PG_ADMIN_URL });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await client.end();
    }
  });
  return `postgres://postgres@127.0.0.1:5432/${name}`;
}

let single: SetupResult | undefined;
let replicas: SetupResult | undefined;
const failures: string[] = [];
/** A set-up that fails is reported and the other still runs: its figures are the reference. */
async function attempt(name: string, run: () => Promise<SetupResult>): Promise<SetupResult | undefined> {
  try {
    return await run();
  } catch (err) {
    console.error(`bench:hub: set-up ${name} failed: ${(err as Error).stack ?? String(err)}`);
    failures.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
}
try {
  if (only !== 'single') {
    replicas = await attempt('replicas', async () => {
      const url = await createDatabase();
      const storage = { type: 'postgres' as const, url, schema: 'vigil' };
      return runSetup({
        ...base('replicas'),
        replicas: [
          { id: 'replica-a', dir: join(dir, 'replica-a'), storage },
          { id: 'replica-b', dir: join(dir, 'replica-b'), storage },
        ],
      });
    });
  }
  if (only !== 'replicas') {
    single = await attempt('single', () => runSetup({ ...base('single'), steadyCeiling: replicas?.drain.recordsPerS, replicas: [{ id: 'single', dir: join(dir, 'single'), storage: { type: 'lmdb' } }] }));
  }
} finally {
  await teardown.run();
}
const loadEnd = load();

const int = (x: number) => Math.round(x).toLocaleString('en');
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-');
const rows: Array<[string, (r: SetupResult) => string]> = [
  ['replicas (storage)', (r) => `${r.replicas} (${r.name === 'single' ? 'LMDB' : 'PostgreSQL'})`],
  ['agents connected', (r) => String(r.connected)],
  ['drain: records acked/s', (r) => int(r.drain.recordsPerS)],
  ['drain: ack p50 / p99, ms', (r) => `${ms(r.drain.p50Ms)} / ${ms(r.drain.p99Ms)}`],
  ['drain: CPU µs/record hubs / postgres / sims', (r) => `${r.drain.cpuUsPerRecord.hubs.toFixed(1)} / ${r.drain.cpuUsPerRecord.postgres.toFixed(1)} / ${r.drain.cpuUsPerRecord.sims.toFixed(1)}`],
  ['steady: offered → acked records/s', (r) => `${int(r.steady.offeredRecordsPerS)} → ${int(r.steady.recordsPerS)}`],
  ['steady: ack p50 / p99 (from due), ms', (r) => `${ms(r.steady.p50Ms)} / ${ms(r.steady.p99Ms)}`],
  [`deploy to all agents, s`, (r) => (r.deploy.seconds === null ? `not done (${r.deploy.state}, ${r.deploy.active} active)` : r.deploy.seconds.toFixed(2))],
  ['records acked by sims / stored', (r) => `${int(r.ackedRecords)} / ${int(r.storedRecords)}`],
  ['hub RSS in drain, MB', (r) => r.hubRssMb.join(' + ')],
  ['agent connection problems', (r) => String(r.problems.length)],
];
const shown = [replicas, single].filter((r): r is SetupResult => r !== undefined);
if (shown.length > 0) {
  console.log('\n' + ''.padEnd(46) + shown.map((r) => r.name.padStart(24)).join(''));
  for (const [label, cell] of rows) console.log(label.padEnd(46) + shown.map((r) => cell(r).padStart(24)).join(''));
}
for (const r of shown) for (const p of r.problems.slice(0, 5)) console.log(`${r.name}: ${p}`);

const ratio = single && replicas ? replicas.drain.recordsPerS / single.drain.recordsPerS : null;
if (ratio !== null) {
  console.log(`\ntwo replicas ÷ single hub: drain ${ratio.toFixed(2)}, steady ack p99 ${(replicas!.steady.p99Ms / single!.steady.p99Ms).toFixed(2)}, deploy time ${replicas!.deploy.seconds !== null && single!.deploy.seconds !== null ? (replicas!.deploy.seconds / single!.deploy.seconds).toFixed(2) : '-'}`);
}
console.log(`load average at start ${loadStart}, at end ${loadEnd}`);

const misses: string[] = [];
for (const f of failures) misses.push(`set-up ${f}`);
// The issue sets no target for the ratio (it is reported): on one 2-core machine both replicas and
// PostgreSQL share the cores the single hub has to itself, so CPU per record is the figure to read.
if (ratio !== null && ratio < 1) console.log(`NOTE ratio_vs_single ${ratio.toFixed(2)}: two replicas and PostgreSQL on the 2 cores the single LMDB hub has alone; see CPU µs/record above`);
for (const r of shown) {
  if (r.deploy.seconds === null) misses.push(`${r.name}: the deployment to ${agents} agents did not complete (${r.deploy.state}, ${r.deploy.active} active)`);
  if (!(r.storedRecords >= r.ackedRecords)) misses.push(`${r.name}: the storage holds ${r.storedRecords} records but ${r.ackedRecords} were acked`);
  if (r.problems.length > 0) misses.push(`${r.name}: ${r.problems.length} agent connection problems`);
}
for (const m of misses) console.log(`MISS ${m}`);

const round = (x: number | null | undefined, digits = 0) => (x === null || x === undefined || !Number.isFinite(x) ? null : Number(x.toFixed(digits)));
console.log(
  'RESULT ' +
    JSON.stringify({
      ingest_records_per_s: round(replicas?.drain.recordsPerS),
      ratio_vs_single: round(ratio, 3),
      ack_p99_ms: round(replicas?.steady.p99Ms, 1),
      deploy_1000_s: round(replicas?.deploy.seconds, 2),
      single_ingest_records_per_s: round(single?.drain.recordsPerS),
      single_ack_p99_ms: round(single?.steady.p99Ms, 1),
      single_deploy_1000_s: round(single?.deploy.seconds, 2),
      drain_ack_p99_ms: round(replicas?.drain.p99Ms, 1),
      single_drain_ack_p99_ms: round(single?.drain.p99Ms, 1),
      steady_offered_records_per_s: round(replicas?.steady.offeredRecordsPerS),
      single_steady_offered_records_per_s: round(single?.steady.offeredRecordsPerS),
      agents,
      batch_records: Number(opts.batch),
      in_flight: Number(opts['in-flight']),
      load_start: loadStart,
      load_end: loadEnd,
      targets_met: misses.length === 0,
    }),
);
// A set-up that could not finish is a crash of this run (its figures are missing), not a missed target.
process.exit(failures.length > 0 ? 1 : 0);
