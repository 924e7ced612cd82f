import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { scoreRecord } from './score-records.js';
import { open } from 'lmdb';
import { openAgentStore, type AgentStore } from '../../agent/store/open-store.js';
import { silentLogger } from '../../shared/logger.js';

/**
 * `npm run bench:store`: the outbox against raw lmdb-js in one run, on the
 * same disk (a temp folder).
 *
 * 1. ceiling: the same --records records put into a fresh environment in ONE
 *    transaction (all puts in one event turn), then `committed` and `flushed`;
 *    twice — as objects (lmdb-js's msgpack) and as the outbox's JSON bytes —
 *    and the faster counts;
 * 2. the outbox flat out: --callers concurrent callers, each appending
 *    --batch records and awaiting durability before its next append, until
 *    --records are durable; records/s = records ÷ wall time;
 * 3. latency at a realistic open-loop rate: --per-tick records every --tick ms
 *    (default 50 every 10 ms = 5,000 records/s) for --seconds; latency = from
 *    the scheduled tick to `append` resolving (durable), p50/p99.
 * Records are score-like JSON objects of about 200 bytes.
 */

const { values: opts } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    callers: { type: 'string', default: '8' },
    batch: { type: 'string', default: '256' },
    'per-tick': { type: 'string', default: '50' },
    tick: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '5' },
  },
});
const total = Number(opts.records);
const callers = Number(opts.callers);
const batch = Number(opts.batch);
const perTick = Number(opts['per-tick']);
const tickMs = Number(opts.tick);
const seconds = Number(opts.seconds);


const root = mkdtempSync(join(tmpdir(), 'vigil-bench-store-'));
const records = Array.from({ length: total }, (_, i) => scoreRecord(i));
const bytesPerRecord = Buffer.byteLength(JSON.stringify({ at: Date.now(), body: records[0] }));

async function rawCeiling(kind: 'msgpack' | 'json'): Promise<number> {
  const env = open({ path: join(root, `raw-${kind}`) });
  const db = kind === 'msgpack' ? env.openDB({ name: 'raw' }) : env.openDB({ name: 'raw', encoding: 'binary' });
  const at = Date.now();
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const value = kind === 'msgpack' ? { at, body: records[i] } : Buffer.from(JSON.stringify({ at, body: records[i] }));
    void db.put(['scores', i + 1], value);
  }
  await db.committed;
  await db.flushed;
  const seconds = (performance.now() - t0) / 1000;
  await env.close();
  return total / seconds;
}

async function outboxThroughput(store: AgentStore): Promise<{ perS: number; txnRecords: number }> {
  let next = 0;
  let appends = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < total) {
        const from = next;
        next = Math.min(total, next + batch);
        await store.outbox.append('scores', records.slice(from, next));
        appends++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  return { perS: total / elapsed, txnRecords: total / Math.max(1, appends) };
}

async function latency(store: AgentStore): Promise<{ p50: number; p99: number; max: number; count: number; late: number }> {
  const ticks = Math.round((seconds * 1000) / tickMs);
  const latencies: number[] = [];
  const inFlight: Array<Promise<void>> = [];
  const start = performance.now() + 20;
  let late = 0;
  for (let t = 0; t < ticks; t++) {
    const due = start + t * tickMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (performance.now() - due > tickMs) late++;
    const body = records.slice((t * perTick) % (total - perTick), ((t * perTick) % (total - perTick)) + perTick);
    inFlight.push(store.outbox.append('scores', body).then(() => void latencies.push(performance.now() - due)));
  }
  await Promise.all(inFlight);
  latencies.sort((a, b) => a - b);
  const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  return { p50: q(0.5), p99: q(0.99), max: latencies[latencies.length - 1]!, count: latencies.length, late };
}

async function main(): Promise<void> {
  const log = silentLogger();
  const rawMsgpack = await rawCeiling('msgpack');
  const rawJson = await rawCeiling('json');
  const raw = Math.max(rawMsgpack, rawJson);

  let store = await openAgentStore({ dir: join(root, 'outbox', 'store'), quotaBytes: 8 * 1024 ** 3, historyHours: 1, log });
  const flat = await outboxThroughput(store);
  await store.close();

  store = await openAgentStore({ dir: join(root, 'latency', 'store'), quotaBytes: 8 * 1024 ** 3, historyHours: 1, log });
  const lat = await latency(store);
  const stats = store.outbox.stats().scores;
  await store.close();
  rmSync(root, { recursive: true, force: true });

  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  console.log(`\nbench:store  ${fmt(total)} records of ${bytesPerRecord} bytes; ${callers} callers × ${batch} records; open loop ${perTick} every ${tickMs} ms for ${seconds} s\n`);
  console.log('subject                                        records/s   note');
  console.log(`raw lmdb-js, one txn, msgpack objects    ${fmt(rawMsgpack).padStart(15)}   committed + flushed`);
  console.log(`raw lmdb-js, one txn, JSON bytes         ${fmt(rawJson).padStart(15)}   committed + flushed`);
  console.log(`outbox append → durable (flat out)       ${fmt(flat.perS).padStart(15)}   ${(flat.perS / raw).toFixed(2)} × raw`);
  console.log(`\nopen loop: ${fmt(lat.count)} appends of ${perTick} (${fmt((perTick * 1000) / tickMs)} records/s): append → durable p50 ${lat.p50.toFixed(1)} ms, p99 ${lat.p99.toFixed(1)} ms, max ${lat.max.toFixed(1)} ms; ${lat.late} ticks started late; ${fmt(stats.durable)} durable`);

  const checks = [
    { ok: flat.perS >= 0.5 * raw, text: `outbox ${fmt(flat.perS)} records/s ≥ 0.5 × raw ${fmt(raw)}` },
    { ok: lat.p99 <= 50, text: `p99 append → durable ${lat.p99.toFixed(1)} ms ≤ 50 ms` },
  ];
  console.log('');
  for (const c of checks) console.log(`${c.ok ? 'OK  ' : 'MISS'} ${c.text}`);
  const result = {
    records_per_s: Math.round(flat.perS),
    ratio_raw: Number((flat.perS / raw).toFixed(3)),
    p99_durable_ms: Number(lat.p99.toFixed(2)),
    p50_durable_ms: Number(lat.p50.toFixed(2)),
    raw_records_per_s: Math.round(raw),
    raw_msgpack_records_per_s: Math.round(rawMsgpack),
    raw_json_records_per_s: Math.round(rawJson),
    record_bytes: bytesPerRecord,
    targets_met: checks.every((c) => c.ok),
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
}

await main();
