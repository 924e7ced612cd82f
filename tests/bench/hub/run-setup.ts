import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { api } from '../../helpers/hub-process.js';
import { pcaPackage } from '../../helpers/pca-package.js';
import { enrolFleet } from './enrol-fleet.js';
import type { FleetFile, FromFleet, WindowReport } from './fleet-messages.js';
import { startReplica, writeReplicaConfig, type ReplicaPlan, type RunningReplica } from './hub-replica.js';
import { postgresCpuSeconds, processCpuSeconds, rssMb } from './process-cpu.js';
import { Teardown } from './teardown.js';

export interface SetupOptions {
  name: string;
  replicas: ReplicaPlan[];
  agents: number;
  /** Role processes the fleet is split over. */
  roles: number;
  batchRecords: number;
  inFlightBatches: number;
  /** Before each drain window (and, at most 2 s, each steady window). */
  warmupMs: number;
  /** How long agents keep sending in the drain window; it ends when what was in flight then is acked. */
  drainWindowMs: number;
  steadyWindowMs: number;
  /**
   * The steady phase offers `steadyShare` × the lower of this set-up's drain
   * rate and `steadyCeiling` (another set-up's drain rate): a load both can
   * carry, the same for both when this one is the faster.
   */
  steadyShare: number;
  steadyCeiling: number | undefined;
  deployTimeoutMs: number;
  /** Undone by the caller's teardown too, so a signal mid-set-up still cleans up. */
  teardown: Teardown;
  log: (line: string) => void;
}

export interface PhaseFigures {
  recordsPerS: number;
  p50Ms: number;
  p99Ms: number;
  batches: number;
  settleMs: number;
}

export interface SetupResult {
  name: string;
  replicas: number;
  connected: number;
  enrolSeconds: number;
  drain: PhaseFigures & { cpuUsPerRecord: { hubs: number; postgres: number; sims: number } };
  steady: PhaseFigures & { offeredRecordsPerS: number };
  deploy: { seconds: number | null; active: number; state: string };
  ackedRecords: number;
  storedRecords: number;
  hubRssMb: number[];
  problems: string[];
}

const ROLE = new URL('./sim-fleet.ts', import.meta.url).pathname;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The next IPC message of `child` that `accept` maps to a value. */
function nextMessage<T>(child: ChildProcess, accept: (m: FromFleet) => T | undefined, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const timer = setTimeout(() => (done(), reject(new Error(`sim-fleet role did not answer within ${timeoutMs} ms`))), timeoutMs);
    const onMessage = (m: FromFleet) => {
      const value = accept(m);
      if (value === undefined) return;
      done();
      resolve(value);
    };
    const onExit = (code: number | null) => (done(), reject(new Error(`sim-fleet role exited (${code})`)));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/**
 * One set-up from empty storage to figures: enrol the fleet through the
 * storage, start the replicas, connect the simulated agents (agent i to
 * replica i mod n), a drain phase (capacity), a steady phase (latency at a
 * fixed offered load), a deployment to every agent made on the first
 * replica, then a check that the storage holds every acked record.
 */
export async function runSetup(o: SetupOptions): Promise<SetupResult> {
  const teardown = new Teardown();
  o.teardown.add(`set-up ${o.name}`, () => teardown.run());
  const replicas: RunningReplica[] = [];
  try {
    return await measure(o, teardown, replicas);
  } catch (err) {
    for (const r of replicas) for (const line of r.errors().slice(0, 6)) o.log(`${o.name}: ${r.id} logged: ${line}`);
    throw err;
  } finally {
    await teardown.run();
  }
}

async function measure(o: SetupOptions, teardown: Teardown, replicas: RunningReplica[]): Promise<SetupResult> {
  const configFiles = o.replicas.map(writeReplicaConfig);
  const enrolStart = performance.now();
  const fleet = await enrolFleet(configFiles[0]!, o.agents);
  const enrolSeconds = (performance.now() - enrolStart) / 1000;

  await Promise.all(
    o.replicas.map(async (plan, i) => {
      const replica = await startReplica(plan.id, configFiles[i]!);
      teardown.add(`replica ${plan.id}`, () => replica.stop());
      replicas[i] = replica;
    }),
  );
  o.log(`${o.name}: ${replicas.map((r) => `${r.id} ${r.url}`).join(', ')}; ${o.agents} agents enrolled in ${enrolSeconds.toFixed(1)} s`);

  const problems: string[] = [];
  const actives = new Map<string, Set<string>>();
  const roles: ChildProcess[] = [];
  const perRole = Math.ceil(o.agents / o.roles);
  for (let r = 0; r < o.roles; r++) {
    const agents = fleet.agents.slice(r * perRole, (r + 1) * perRole).map((a, k) => ({ ...a, hubUrl: replicas[(r * perRole + k) % replicas.length]!.url }));
    const file = join(o.replicas[0]!.dir, `fleet-${r}.json`);
    const content: FleetFile = { agents, publicKeyPem: fleet.publicKeyPem, batchRecords: o.batchRecords, inFlightBatches: o.inFlightBatches };
    writeFileSync(file, JSON.stringify(content));
    const role = fork(ROLE, [file], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    teardown.add(`sim-fleet role ${r}`, () => {
      if (role.exitCode === null && role.signalCode === null) role.kill('SIGKILL');
    });
    role.on('message', (m: FromFleet) => {
      if ('problem' in m) {
        problems.push(`${m.agent}: ${m.problem}`);
        if (problems.length <= 3) o.log(`${o.name}: problem: ${m.agent}: ${m.problem}`);
      }
      if ('active' in m) (actives.get(m.deployment) ?? actives.set(m.deployment, new Set()).get(m.deployment)!).add(m.active);
    });
    roles.push(role);
  }
  const ups = await Promise.all(roles.map((role) => nextMessage(role, (m) => ('connected' in m ? m : undefined), 120_000)));
  const connected = ups.reduce((sum, u) => sum + u.connected, 0);
  if (connected !== o.agents) throw new Error(`${o.name}: only ${connected} of ${o.agents} simulated agents connected; first problems: ${problems.slice(0, 3).join('; ')}`);
  await waitOnline(replicas[0]!.url, fleet.adminToken, o.agents, o.log);

  const windowReports = (timeoutMs: number) => roles.map((role) => nextMessage(role, (m) => ('window' in m ? m.window : undefined), timeoutMs));

  // Drain: capacity. The window starts after the warm-up and ends at the last ack of
  // what was in flight when sending stopped: the hubs are saturated throughout.
  const cpu = () => ({ hubs: replicas.reduce((s, r) => s + processCpuSeconds(r.pid), 0), postgres: postgresCpuSeconds(), sims: roles.reduce((s, r) => s + processCpuSeconds(r.pid!), 0) });
  const drainReports = windowReports(o.warmupMs + o.drainWindowMs + 300_000);
  for (const role of roles) role.send({ run: { mode: 'drain', warmupMs: o.warmupMs, windowMs: o.drainWindowMs } });
  await sleep(o.warmupMs);
  const cpu0 = cpu();
  await sleep(o.drainWindowMs);
  const hubRssMb = replicas.map((r) => Math.round(rssMb(r.pid)));
  const drained = combine(await Promise.all(drainReports));
  const cpu1 = cpu();
  const perRecord = (seconds: number) => (seconds * 1e6) / Math.max(1, drained.records);
  const drain = {
    ...figures(drained),
    cpuUsPerRecord: { hubs: perRecord(cpu1.hubs - cpu0.hubs), postgres: perRecord(cpu1.postgres - cpu0.postgres), sims: perRecord(cpu1.sims - cpu0.sims) },
  };
  o.log(`${o.name}: drain ${Math.round(drain.recordsPerS).toLocaleString('en')} records/s over ${drained.seconds.toFixed(1)} s, ack p99 ${drain.p99Ms.toFixed(0)} ms`);

  // Steady: the same offered load for every set-up, latency from when each batch was due.
  const offered = o.steadyShare * Math.min(drain.recordsPerS, o.steadyCeiling ?? Number.POSITIVE_INFINITY);
  const batchesPerSecond = offered / o.batchRecords / o.agents;
  const steadyReports = windowReports(o.steadyWindowMs + 90_000);
  for (const role of roles) role.send({ run: { mode: 'steady', batchesPerSecond, warmupMs: Math.min(o.warmupMs, 2000), windowMs: o.steadyWindowMs } });
  const steady = { ...figures(combine(await Promise.all(steadyReports))), offeredRecordsPerS: offered };
  o.log(`${o.name}: steady ${Math.round(offered).toLocaleString('en')} records/s offered, ack p50 ${steady.p50Ms.toFixed(0)} ms, p99 ${steady.p99Ms.toFixed(0)} ms`);

  const deploy = await deployToAll(replicas[0]!.url, fleet.adminToken, o.agents, actives, o.deployTimeoutMs);
  o.log(`${o.name}: deployment to ${o.agents}: ${deploy.state}, ${deploy.active} active${deploy.seconds === null ? '' : ` in ${deploy.seconds.toFixed(2)} s`}`);

  const stopped = await Promise.all(
    roles.map((role) => {
      const answer = nextMessage(role, (m) => ('stopped' in m ? m.stopped : undefined), 20_000);
      role.send({ stop: true });
      return answer;
    }),
  );
  const ackedRecords = stopped.reduce((sum, s) => sum + s.ackedRecords, 0);
  const onHub = await api(replicas[0]!.url, '/api/records/scores?limit=1', { token: fleet.adminToken });
  const storedRecords = Number(onHub.json?.total ?? Number.NaN);
  return { name: o.name, replicas: replicas.length, connected, enrolSeconds, drain, steady, deploy, ackedRecords, storedRecords, hubRssMb, problems };
}

/** The roles' windows as one: records over the longest window (roles that finished early do not inflate the rate). */
function combine(reports: readonly WindowReport[]): { records: number; seconds: number; recordsPerS: number; latencies: number[]; settleMs: number; unsettled: number; disconnected: number } {
  const records = reports.reduce((sum, r) => sum + r.records, 0);
  const seconds = Math.max(...reports.map((r) => r.seconds));
  return {
    records,
    seconds,
    recordsPerS: records / seconds,
    latencies: reports.flatMap((r) => r.latenciesMs).sort((a, b) => a - b),
    settleMs: Math.max(...reports.map((r) => r.settleMs)),
    unsettled: reports.reduce((sum, r) => sum + r.unsettled, 0),
    disconnected: reports.reduce((sum, r) => sum + r.disconnected, 0),
  };
}

function figures(c: ReturnType<typeof combine>): PhaseFigures {
  if (c.unsettled > 0) throw new Error(`${c.unsettled} batches were never acked (no ack for 30 s; ${c.disconnected} agents not connected at the end)`);
  return { recordsPerS: c.recordsPerS, p50Ms: percentile(c.latencies, 0.5), p99Ms: percentile(c.latencies, 0.99), batches: c.latencies.length, settleMs: c.settleMs };
}

/** Until the API (of one replica) shows every agent online; presence written by other replicas must show there too. */
async function waitOnline(hubUrl: string, token: string, count: number, log: (line: string) => void): Promise<void> {
  const deadline = performance.now() + 30_000;
  let online = 0;
  while (performance.now() < deadline) {
    const listed = await api(hubUrl, '/api/agents', { token });
    online = (listed.json?.agents as Array<{ online: boolean }> | undefined)?.filter((a) => a.online).length ?? 0;
    if (online >= count) return;
    await sleep(250);
  }
  log(`warning: ${hubUrl} shows ${online} of ${count} agents online after 30 s; going on`);
}

/** Pushes a package and deploys it to every agent by label on `hubUrl`; until all are active and the hub says completed. */
async function deployToAll(hubUrl: string, token: string, count: number, actives: Map<string, Set<string>>, timeoutMs: number): Promise<SetupResult['deploy']> {
  const bytes = await pcaPackage({ name: 'bench-pca', version: '1.0.0', tags: ['p.temp', 'p.flow', 'p.current', 'p.vibration'], samplePeriodMs: 1000 });
  const pushed = await fetch(`${hubUrl}/api/models`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body: bytes });
  if (pushed.status !== 201) throw new Error(`model push failed (${pushed.status}): ${await pushed.text()}`);
  const started = performance.now();
  const created = await api(hubUrl, '/api/deployments', { token, body: { model: 'bench-pca', version: '1.0.0', labels: { bench: '1' }, mode: 'activate' } });
  if (created.status !== 201) throw new Error(`deployment failed (${created.status}): ${created.text}`);
  const id = String(created.json.deployment?.id ?? created.json.id);
  let state = 'unknown';
  for (;;) {
    const got = (await api(hubUrl, `/api/deployments/${encodeURIComponent(id)}`, { token })).json;
    state = String((got?.deployment ?? got)?.state);
    const active = actives.get(id)?.size ?? 0;
    if (state === 'completed' && active >= count) return { seconds: (performance.now() - started) / 1000, active, state };
    if (state === 'failed' || state === 'rolled_back' || performance.now() - started > timeoutMs) return { seconds: null, active, state };
    await sleep(50);
  }
}
