import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { windowResultRecord } from './score-records.js';
import { open as openLmdb } from 'lmdb';
import WebSocket from 'ws';
import { HubSchema } from '../../agent/config/schema.js';
import { ModelRegistry } from '../../agent/models/model-registry.js';
import { openAgentStore } from '../../agent/store/open-store.js';
import { startHubLink } from '../../agent/sync/hub-link.js';
import { silentLogger } from '../../shared/logger.js';
import { MAX_MESSAGE_BYTES } from '../../shared/sync-protocol.js';
import { api, startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { pcaPackage } from '../helpers/pca-package.js';

/**
 * `npm run bench:sync`: the sync path against raw websockets, in one run.
 *
 * 1. ceiling: a bare ws server in its own process acks every message; this
 *    process sends pre-serialised batch messages of the same size the agent
 *    sends (--batch records), --in-flight at a time, --records in all;
 * 2. drain: an agent outbox (real LMDB) holding --records score records is
 *    drained by the agent's real HubLink into a real `vigil hub` process
 *    (LMDB storage, acks after durable ingest); records/s = records ÷ time from
 *    link start to the last ack; the hub's record count is checked;
 *    after an unmeasured warm-up of both, 1 and 2 alternate --rounds times
 *    (ceiling, drain, ceiling, drain, …) so that both see the same neighbours
 *    on a shared machine; the figures are medians, with min–max, and the CPU
 *    each side spent per record;
 *    durable floor (also alternated): the least a durable drain can do, to
 *    show how much of the gap to the ceiling is storage rather than Vigil —
 *    the same records stored in blocks of 256 in an agent-side LMDB, read
 *    block by block, sent as received (one text frame per batch), stored as
 *    received in the receiving process's LMDB (no parsing, validation or
 *    index), acked once the commit is flushed to disk, and the acked blocks
 *    deleted; storage alone (also alternated): only that receiving end's
 *    durable writes of the same bytes, without network or agent — no hub
 *    that acks what it stored can drain faster than this here;
 * 3. --fleet simulated agents (a role process, real protocol) connect; the
 *    hub's RSS is read from /proc;
 * 4. a model version is pushed and deployed to --deploy of them; time until
 *    every one downloaded it, checked the signature, reported active and the
 *    hub marked the deployment completed.
 */

const { values: opts } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '2000' },
    'in-flight': { type: 'string', default: '4' },
    fleet: { type: 'string', default: '1000' },
    deploy: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '3' },
  },
});
const total = Number(opts.records);
const batchRecords = Number(opts.batch);
const inFlight = Number(opts['in-flight']);
const fleet = Number(opts.fleet);
const deployCount = Number(opts.deploy);
const rounds = Number(opts.rounds);
const ROLES = new URL('./sync/', import.meta.url);


function forkRole(file: string, args: string[]): ChildProcess {
  return fork(new URL(file, ROLES).pathname, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function nextMessage<T>(child: ChildProcess, accept: (m: any) => T | undefined, timeoutMs = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('role process did not answer in time')), timeoutMs);
    const onMessage = (m: unknown) => {
      const value = accept(m);
      if (value === undefined) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(value);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`role process exited (${code})`)));
  });
}

/** utime + stime of a process, seconds (clock ticks of 10 ms). */
const procCpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

interface Measured {
  /** Records per second. */
  rate: number;
  /** CPU time per record, µs (all threads): the sending side (this process) and the receiving process. */
  senderUs: number;
  receiverUs: number;
}

const cpuUs = (seconds: number, records: number) => (seconds * 1e6) / records;
const ownCpuSeconds = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
};

/** Phase 1: pre-serialised batches through a bare ws pair, the same window of acks. */
async function ceiling(peer: ChildProcess, port: number, ring: readonly string[], records = total): Promise<Measured> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, { maxPayload: MAX_MESSAGE_BYTES });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const messages = Math.ceil(records / batchRecords);
  let sent = 0;
  let acked = 0;
  const peerCpu0 = procCpuSeconds(peer.pid!);
  const ownCpu0 = process.cpuUsage();
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (sent < messages && sent - acked < inFlight) ws.send(ring[sent++ % ring.length]!);
    };
    ws.on('message', () => {
      acked++;
      if (acked === messages) resolve();
      else pump();
    });
    pump();
  });
  const seconds = (performance.now() - started) / 1000;
  const measured = {
    rate: (messages * batchRecords) / seconds,
    senderUs: cpuUs(ownCpuSeconds(ownCpu0), messages * batchRecords),
    receiverUs: cpuUs(procCpuSeconds(peer.pid!) - peerCpu0, messages * batchRecords),
  };
  ws.close();
  return measured;
}

/** A ring of distinct batch messages of the agent's size; the same bytes as the agent's batches. */
function ceilingMessages(): string[] {
  return Array.from({ length: 8 }, (_, r) => {
    const records = Array.from({ length: batchRecords }, (_, i) => ({ seq: r * batchRecords + i + 1, at: Date.now(), body: windowResultRecord(r * batchRecords + i) }));
    return JSON.stringify({ type: 'batch', stream: 'scores', epoch: 'ceiling', first: records[0]!.seq, last: records.at(-1)!.seq, records });
  });
}

/** Phase 2: the agent's outbox drained by its real link into the hub process; a new agent and store each round. */
async function drain(hub: HubProcess, admin: string, dir: string, round: number, records = total): Promise<Measured> {
  const agentId = `bench-drain-${round}`;
  const storeDir = join(dir, `agent-store-${round}`);
  const store = await openAgentStore({ dir: storeDir, quotaBytes: 8 * 1024 ** 3, historyHours: 1, agent: agentId, log: silentLogger() });
  const chunk = 20_000;
  for (let i = 0; i < records; i += chunk) await store.outbox.append('scores', Array.from({ length: Math.min(chunk, records - i) }, (_, k) => windowResultRecord(i + k)));
  const created = await api(hub.url, '/api/agents', { token: admin, body: { id: agentId, labels: {} } });
  if (created.status !== 201) throw new Error(`could not create the agent: ${created.text}`);
  writeFileSync(join(dir, 'drain.token'), created.json.token);
  const config = HubSchema.parse({ url: hub.syncUrl.replace(/\/sync$/, ''), tokenFile: join(dir, 'drain.token'), publicKeyFile: join(dir, 'hub.pub'), batchRecords, inFlightBatches: inFlight });
  const last = store.outbox.lastDurable('scores');
  const hubCpu0 = procCpuSeconds(hub.process.child.pid!);
  const ownCpu0 = process.cpuUsage();
  const started = performance.now();
  const link = startHubLink({
    agentId,
    config,
    store,
    scoring: { registry: new ModelRegistry(), deploy: async () => ({ result: 'refused', reason: 'bench: no deployments' }), stopShadow: async () => undefined },
    health: { sources: () => [], tags: { counts: () => ({ configured: 0, live: 0 }) }, dropsTotal: () => 0, assess: () => ({ status: 'ok', reasons: [] }), startedAt: Date.now() },
    log: silentLogger(),
  });
  while (store.outbox.stats().scores.acked < last) await new Promise((r) => setTimeout(r, 20));
  const seconds = (performance.now() - started) / 1000;
  const measured = { rate: records / seconds, senderUs: cpuUs(ownCpuSeconds(ownCpu0), records), receiverUs: cpuUs(procCpuSeconds(hub.process.child.pid!) - hubCpu0, records) };
  await link.stop();
  await store.close();
  rmSync(storeDir, { recursive: true, force: true });
  const onHub = await api(hub.url, `/api/records/scores?agent=${agentId}&limit=1`, { token: admin });
  if (onHub.json?.total !== records) throw new Error(`the hub holds ${onHub.json?.total} records of ${records}`);
  return measured;
}

/**
 * The durable floor (see the top): an agent-side LMDB of the same records in
 * blocks of 256, drained with the same batch size and window into the
 * durable-floor peer; acked blocks deleted. Records/s over the whole drain.
 */
async function durableFloor(peer: ChildProcess, port: number, dir: string, round: number, records = total): Promise<Measured> {
  const path = join(dir, `floor-agent-${round}`);
  const env = openLmdb({ path, mapSize: 16 * 1024 ** 3 });
  const blocks = env.openDB<Buffer, [string, number]>({ name: 'blocks', encoding: 'binary' });
  const BLOCK = 256;
  const at = Date.now();
  await env.transaction(() => {
    for (let first = 1; first <= records; first += BLOCK) {
      const parts: string[] = [];
      for (let seq = first; seq < Math.min(first + BLOCK, records + 1); seq++) parts.push(`{"seq":${seq},"at":${at},"body":${JSON.stringify(windowResultRecord(seq - 1))}}`);
      const text = Buffer.from(parts.join(','));
      const value = Buffer.allocUnsafe(4 + text.length);
      value.writeUInt32LE(parts.length, 0);
      text.copy(value, 4);
      void blocks.put(['scores', first], value);
    }
  });
  await env.flushed;
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, { maxPayload: MAX_MESSAGE_BYTES });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const epoch = `floor-${round}`;
  /** Whole blocks after `after` up to the batch size, as one batch message's bytes. */
  const take = (after: number): { bytes: Buffer; last: number; keys: Array<[string, number]> } | null => {
    const parts: Buffer[] = [];
    const keys: Array<[string, number]> = [];
    let count = 0;
    let first = 0;
    let last = 0;
    for (const { key, value } of blocks.getRange({ start: ['scores', after + 1], end: ['scores', Number.MAX_SAFE_INTEGER] })) {
      const n = value.readUInt32LE(0);
      if (count > 0 && count + n > batchRecords) break;
      if (count === 0) first = key[1];
      parts.push(value.subarray(4));
      keys.push(key);
      count += n;
      last = key[1] + n - 1;
    }
    if (count === 0) return null;
    const head = Buffer.from(`{"type":"batch","stream":"scores","epoch":"${epoch}","first":${first},"last":${last},"records":[`);
    const joined = Buffer.concat([head, ...parts.flatMap((part, i) => (i === 0 ? [part] : [COMMA_BYTE, part])), TAIL_BYTES]);
    return { bytes: joined, last, keys };
  };
  const peerCpu0 = procCpuSeconds(peer.pid!);
  const ownCpu0 = process.cpuUsage();
  const started = performance.now();
  let acked = 0;
  await new Promise<void>((resolve) => {
    const inflight: Array<{ last: number; keys: Array<[string, number]> }> = [];
    let after = 0;
    const pump = () => {
      while (inflight.length < inFlight) {
        const batch = take(after);
        if (!batch) break;
        after = batch.last;
        inflight.push(batch);
        ws.send(batch.bytes, { binary: false });
      }
      if (inflight.length === 0) resolve();
    };
    ws.on('message', () => {
      const done = inflight.shift()!;
      acked = done.last;
      void blocks.batch(() => {
        for (const key of done.keys) void blocks.remove(key);
      });
      pump();
    });
    pump();
  });
  const seconds = (performance.now() - started) / 1000;
  const measured = { rate: acked / seconds, senderUs: cpuUs(ownCpuSeconds(ownCpu0), acked), receiverUs: cpuUs(procCpuSeconds(peer.pid!) - peerCpu0, acked) };
  ws.close();
  await env.close();
  rmSync(path, { recursive: true, force: true });
  if (acked !== records) throw new Error(`the durable floor acked ${acked} of ${records} records`);
  return measured;
}
/**
 * Storage alone: the receiving end's durable write with nothing around it —
 * no network, no agent, no parsing. The records part of each ceiling message
 * (the same bytes) is put as one LMDB value per batch into a fresh
 * environment, --in-flight at a time, each counted done when lmdb-js reports
 * it flushed to disk (as the hub acks). Any hub that stores what it acks can
 * drain no faster than this on this machine's disk.
 */
async function storageAlone(dir: string, round: number, ring: readonly string[], records = total): Promise<Measured> {
  const path = join(dir, `storage-alone-${round}`);
  const env = openLmdb({ path, mapSize: 16 * 1024 ** 3 });
  const batches = env.openDB<Buffer, number>({ name: 'batches', encoding: 'binary' });
  const parts = ring.map((text) => {
    const bytes = Buffer.from(text);
    return bytes.subarray(bytes.indexOf(',"records":[') + 11, bytes.length - 1);
  });
  const messages = Math.ceil(records / batchRecords);
  const ownCpu0 = process.cpuUsage();
  const started = performance.now();
  const inflight: Array<Promise<unknown>> = [];
  for (let i = 0; i < messages; i++) {
    if (inflight.length >= inFlight) await inflight.shift();
    inflight.push(batches.put(i, parts[i % parts.length]!).then(() => env.flushed));
  }
  await Promise.all(inflight);
  const seconds = (performance.now() - started) / 1000;
  const measured = { rate: (messages * batchRecords) / seconds, senderUs: cpuUs(ownCpuSeconds(ownCpu0), messages * batchRecords), receiverUs: 0 };
  await env.close();
  rmSync(path, { recursive: true, force: true });
  return measured;
}
const COMMA_BYTE = Buffer.from(',');
const TAIL_BYTES = Buffer.from(']}');

const median = (xs: readonly number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const spread = (xs: readonly number[], digits = 0) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;

/** Phases 3 and 4: a simulated fleet; hub RSS; a deployment to part of it. */
async function fleetPhases(hub: HubProcess, admin: string, dir: string): Promise<{ rss: number; rssIdle: number; deploySeconds: number }> {
  const hubPid = hub.process.child.pid!;
  const rssIdle = rssMb(hubPid);
  const agents: Array<{ id: string; token: string }> = [];
  for (let i = 0; i < fleet; i++) {
    const id = `sim-${String(i).padStart(4, '0')}`;
    const created = await api(hub.url, '/api/agents', { token: admin, body: { id, labels: { group: i < deployCount ? 'canary-fleet' : 'rest' } } });
    if (created.status !== 201) throw new Error(`could not create ${id}: ${created.text}`);
    agents.push({ id, token: created.json.token });
  }
  writeFileSync(join(dir, 'agents.json'), JSON.stringify(agents));
  const sims = forkRole('sim-agents.ts', [hub.url, join(dir, 'agents.json'), join(dir, 'hub.pub'), '10000']);
  const up = await nextMessage(sims, (m: { connected?: number; failures?: number }) => (m.connected === undefined ? undefined : m));
  if (up.connected !== fleet) throw new Error(`only ${up.connected} of ${fleet} simulated agents connected (${up.failures} failures)`);
  const online = async () => ((await api(hub.url, '/api/agents', { token: admin })).json.agents as Array<{ online: boolean }>).filter((a) => a.online).length;
  while ((await online()) < fleet + 0) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 3000));
  const rss = rssMb(hubPid);

  const bytes = await pcaPackage({ name: 'bench-pca', version: '1.0.0', tags: ['p.temp', 'p.flow', 'p.current', 'p.vibration'], samplePeriodMs: 1000 });
  const pushed = await fetch(`${hub.url}/api/models`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/octet-stream' }, body: bytes });
  if (pushed.status !== 201) throw new Error(`push failed: ${await pushed.text()}`);
  const actives = new Set<string>();
  sims.on('message', (m: { active?: string }) => m.active && actives.add(m.active));
  const started = performance.now();
  const deployed = await api(hub.url, '/api/deployments', { token: admin, body: { model: 'bench-pca', version: '1.0.0', labels: { group: 'canary-fleet' }, mode: 'activate' } });
  if (deployed.status !== 201) throw new Error(`deploy failed: ${deployed.text}`);
  const id = String(deployed.json.deployment?.id ?? deployed.json.id);
  for (;;) {
    const state = (await api(hub.url, `/api/deployments/${encodeURIComponent(id)}`, { token: admin })).json;
    const deployment = state.deployment ?? state;
    if (deployment.state === 'completed' && actives.size >= deployCount) break;
    if (deployment.state === 'failed' || deployment.state === 'rolled_back') throw new Error(`deployment ${deployment.state}: ${deployment.reason}`);
    if (performance.now() - started > 120_000) throw new Error(`deployment not completed after 120 s: ${actives.size} active`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const deploySeconds = (performance.now() - started) / 1000;
  sims.send({ stop: true });
  console.log(`fleet: ${fleet} agents connected; deployment to ${deployCount}: all active in ${deploySeconds.toFixed(2)} s`);
  return { rss, rssIdle, deploySeconds };
}

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-sync-'));
const hub = await startHubProcess();
const peer = forkRole('raw-ws-peer.ts', []);
const floorPeer = forkRole('durable-floor-peer.ts', [join(dir, 'floor-hub')]);
try {
  const admin = await hub.addApiToken('bench', 'admin');
  writeFileSync(join(dir, 'hub.pub'), (await api(hub.url, '/api/signing-key')).text);
  const port = await nextMessage(peer, (m: { port?: number }) => m.port);
  const floorPort = await nextMessage(floorPeer, (m: { port?: number }) => m.port);
  const ring = ceilingMessages();
  console.log(`${rounds} rounds of ${total} records in messages of ${(Buffer.byteLength(ring[0]!) / 1024).toFixed(0)} KB (${batchRecords} records), ${inFlight} in flight`);
  // Unmeasured warm-up of both paths (JIT, sockets, the hub's first writes):
  // a cold first round showed half the raw ws rate of the later ones.
  await ceiling(peer, port, ring, Math.min(total, 50 * batchRecords));
  await drain(hub, admin, dir, 0, Math.min(total, 20 * batchRecords));
  await durableFloor(floorPeer, floorPort, dir, 0, Math.min(total, 20 * batchRecords));
  await storageAlone(dir, 0, ring, Math.min(total, 20 * batchRecords));
  const ws: Measured[] = [];
  const stores: Measured[] = [];
  const drained: Measured[] = [];
  const floors: Measured[] = [];
  for (let round = 1; round <= rounds; round++) {
    const c = await ceiling(peer, port, ring);
    const d = await drain(hub, admin, dir, round);
    const f = await durableFloor(floorPeer, floorPort, dir, round);
    const st = await storageAlone(dir, round, ring);
    ws.push(c);
    stores.push(st);
    drained.push(d);
    floors.push(f);
    console.log(
      `round ${round}: raw ws ${Math.round(c.rate).toLocaleString('en')} records/s (CPU µs/record: sender ${c.senderUs.toFixed(2)}, receiver ${c.receiverUs.toFixed(2)}) | ` +
        `drain ${Math.round(d.rate).toLocaleString('en')} records/s (agent ${d.senderUs.toFixed(2)}, hub ${d.receiverUs.toFixed(2)}) | ratio ${(d.rate / c.rate).toFixed(2)} | ` +
        `durable floor ${Math.round(f.rate).toLocaleString('en')} records/s (${f.senderUs.toFixed(2)}, ${f.receiverUs.toFixed(2)}), ÷ raw ws ${(f.rate / c.rate).toFixed(2)} | ` +
        `storage alone ${Math.round(st.rate).toLocaleString('en')} records/s, ÷ raw ws ${(st.rate / c.rate).toFixed(2)}`,
    );
  }
  peer.send({ stop: true });
  floorPeer.send({ stop: true });
  const wsRate = median(ws.map((m) => m.rate));
  const drainRate = median(drained.map((m) => m.rate));
  const ratios = drained.map((d, i) => d.rate / ws[i]!.rate);
  const ratio = drainRate / wsRate;
  const floorRate = median(floors.map((m) => m.rate));
  const floorRatios = floors.map((f, i) => f.rate / ws[i]!.rate);
  const storeRate = median(stores.map((m) => m.rate));
  const storeRatios = stores.map((m, i) => m.rate / ws[i]!.rate);
  const cpu = {
    ws_sender: median(ws.map((m) => m.senderUs)),
    ws_receiver: median(ws.map((m) => m.receiverUs)),
    agent: median(drained.map((m) => m.senderUs)),
    hub: median(drained.map((m) => m.receiverUs)),
    floor_sender: median(floors.map((m) => m.senderUs)),
    floor_receiver: median(floors.map((m) => m.receiverUs)),
    storage_alone: median(stores.map((m) => m.senderUs)),
  };
  const { rss, rssIdle, deploySeconds } = await fleetPhases(hub, admin, dir);
  const rows: Array<[string, string]> = [
    ['raw ws (ceiling), records/s, median [min–max]', `${Math.round(wsRate).toLocaleString('en')} [${spread(ws.map((m) => m.rate))}]`],
    ['agent outbox → hub drain, records/s, median [min–max]', `${Math.round(drainRate).toLocaleString('en')} [${spread(drained.map((m) => m.rate))}]`],
    ['drain ÷ raw ws (target ≥ 0.5), of medians [rounds]', `${ratio.toFixed(2)} [${spread(ratios, 2)}]`],
    ['durable floor (bytes as received), records/s, median', `${Math.round(floorRate).toLocaleString('en')} [${spread(floors.map((m) => m.rate))}]`],
    ['durable floor ÷ raw ws, of medians [rounds]', `${(floorRate / wsRate).toFixed(2)} [${spread(floorRatios, 2)}]`],
    ['drain ÷ durable floor, of medians', (drainRate / floorRate).toFixed(2)],
    ['storage alone (LMDB, flushed, no network), records/s', `${Math.round(storeRate).toLocaleString('en')} [${spread(stores.map((m) => m.rate))}]`],
    ['storage alone ÷ raw ws, of medians [rounds]', `${(storeRate / wsRate).toFixed(2)} [${spread(storeRatios, 2)}]`],
    ['CPU µs/record raw ws: sender, receiver', `${cpu.ws_sender.toFixed(2)}, ${cpu.ws_receiver.toFixed(2)}`],
    ['CPU µs/record drain: agent, hub', `${cpu.agent.toFixed(2)}, ${cpu.hub.toFixed(2)}`],
    ['CPU µs/record durable floor: agent side, receiver', `${cpu.floor_sender.toFixed(2)}, ${cpu.floor_receiver.toFixed(2)}`],
    ['CPU µs/record storage alone (this process)', cpu.storage_alone.toFixed(2)],
    [`deploy to ${deployCount} agents, s (target ≤ 10)`, deploySeconds.toFixed(2)],
    [`hub RSS with ${fleet} agents, MB (idle ${rssIdle.toFixed(0)})`, rss.toFixed(0)],
  ];
  console.log('\n' + rows.map(([k, v]) => `${k.padEnd(56)} ${v}`).join('\n'));
  const targetsMet = ratio >= 0.5 && deploySeconds <= 10;
  if (ratio < 0.5) console.log(`MISS drain ratio ${ratio.toFixed(2)} < 0.5`);
  if (deploySeconds > 10) console.log(`MISS deployment to ${deployCount} took ${deploySeconds.toFixed(1)} s > 10 s`);
  const round2 = (x: number) => Number(x.toFixed(2));
  console.log(
    'RESULT ' +
      JSON.stringify({
        drain_records_per_s: Math.round(drainRate),
        ratio_ws: Number(ratio.toFixed(3)),
        deploy_500_s: Number(deploySeconds.toFixed(2)),
        hub_rss_1000_mb: Math.round(rss),
        ws_records_per_s: Math.round(wsRate),
        ws_min: Math.round(Math.min(...ws.map((m) => m.rate))),
        ws_max: Math.round(Math.max(...ws.map((m) => m.rate))),
        drain_min: Math.round(Math.min(...drained.map((m) => m.rate))),
        drain_max: Math.round(Math.max(...drained.map((m) => m.rate))),
        ratio_min: Number(Math.min(...ratios).toFixed(3)),
        ratio_max: Number(Math.max(...ratios).toFixed(3)),
        floor_records_per_s: Math.round(floorRate),
        floor_ratio_ws: Number((floorRate / wsRate).toFixed(3)),
        floor_ratio_ws_min: Number(Math.min(...floorRatios).toFixed(3)),
        floor_ratio_ws_max: Number(Math.max(...floorRatios).toFixed(3)),
        drain_ratio_floor: Number((drainRate / floorRate).toFixed(3)),
        storage_alone_records_per_s: Math.round(storeRate),
        storage_alone_ratio_ws: Number((storeRate / wsRate).toFixed(3)),
        storage_alone_ratio_ws_max: Number(Math.max(...storeRatios).toFixed(3)),
        cpu_us_per_record: { ws_sender: round2(cpu.ws_sender), ws_receiver: round2(cpu.ws_receiver), agent: round2(cpu.agent), hub: round2(cpu.hub), floor_sender: round2(cpu.floor_sender), floor_receiver: round2(cpu.floor_receiver), storage_alone: round2(cpu.storage_alone) },
        rounds,
        records: total,
        agents: fleet,
        deployed_to: deployCount,
        targets_met: targetsMet,
      }),
  );
} finally {
  if (peer.exitCode === null) peer.kill();
  if (floorPeer.exitCode === null) floorPeer.kill();
  await hub.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
