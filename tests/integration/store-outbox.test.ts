import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openAgentStore, type AgentStore } from '../../agent/store/open-store.js';
import { Outbox, OUTBOX_STREAMS, type OutboxStream } from '../../agent/store/outbox.js';
import { silentLogger } from '../../shared/logger.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
let root: string;
let dir: string;
const stores: AgentStore[] = [];

async function openStore(extra: { mapSize?: number } = {}): Promise<AgentStore> {
  const store = await openAgentStore({ dir, quotaBytes: 1024 ** 3, historyHours: 1, log: silentLogger(), ...extra });
  stores.push(store);
  return store;
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'vigil-outbox-'));
  dir = join(root, 'store');
});

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  rmSync(root, { recursive: true, force: true });
});

describe('outbox', () => {
  it('numbers concurrent appends gap-free per stream, each range holding its own bodies', async () => {
    const store = await openStore();
    const calls: Array<{ stream: OutboxStream; bodies: unknown[]; range: Promise<{ first: number; last: number }> }> = [];
    for (let i = 0; i < 60; i++) {
      const stream = OUTBOX_STREAMS[i % 3]!;
      const bodies = Array.from({ length: 1 + ((i * 7) % 23) }, (_, j) => ({ call: i, j }));
      calls.push({ stream, bodies, range: store.outbox.append(stream, bodies) });
      // Some appends land in later loop turns, so several transactions are involved.
      if (i % 10 === 9) await new Promise((r) => setImmediate(r));
    }
    const ranges = await Promise.all(calls.map((c) => c.range));
    for (const stream of OUTBOX_STREAMS) {
      const mine = calls.map((c, i) => ({ ...c, r: ranges[i]! })).filter((c) => c.stream === stream);
      const sorted = [...mine].sort((a, b) => a.r.first - b.r.first);
      let expected = 1;
      for (const c of sorted) {
        expect(c.r.first).toBe(expected);
        expect(c.r.last - c.r.first + 1).toBe(c.bodies.length);
        expected = c.r.last + 1;
      }
      const pending = store.outbox.pending(stream, 0, 10_000);
      expect(pending.map((p) => p.seq)).toEqual(Array.from({ length: expected - 1 }, (_, k) => k + 1));
      for (const c of mine) expect(pending.slice(c.r.first - 1, c.r.last).map((p) => p.body)).toEqual(c.bodies);
      expect(store.outbox.stats()[stream]).toMatchObject({ next: expected, durable: expected - 1, pendingCount: expected - 1, acked: 0 });
    }
  });

  it('returns pending records in order and deletes them only when acked', async () => {
    const store = await openStore();
    await store.outbox.append('scores', Array.from({ length: 10 }, (_, i) => ({ i })));
    expect(store.outbox.pending('scores', 0, 4).map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(store.outbox.pending('scores', 4, 100).map((r) => r.seq)).toEqual([5, 6, 7, 8, 9, 10]);
    const bytesBefore = store.outbox.stats().scores.pendingBytes;

    await store.outbox.ack('scores', 4);
    expect(store.outbox.pending('scores', 0, 100).map((r) => r.seq)).toEqual([5, 6, 7, 8, 9, 10]);
    const stats = store.outbox.stats().scores;
    expect(stats).toMatchObject({ acked: 4, pendingCount: 6, next: 11 });
    expect(stats.pendingBytes).toBeLessThan(bytesBefore);

    await store.outbox.ack('scores', 2); // an older ack is a no-op
    expect(store.outbox.stats().scores.acked).toBe(4);
    await expect(store.outbox.ack('scores', 11)).rejects.toThrow(/last durable seq is 10/);
    await store.outbox.ack('scores', 10);
    expect(store.outbox.pending('scores', 0, 100)).toEqual([]);
    expect(store.outbox.stats().scores).toMatchObject({ pendingCount: 0, pendingBytes: 0, oldestPendingAt: null });
    // Other streams are untouched by acks on scores.
    expect((await store.outbox.append('events', [{ e: 1 }])).first).toBe(1);
  });

  it('resumes numbering, acks and pending records from disk after a reopen', async () => {
    let store = await openStore();
    await store.outbox.append('episodes', [{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    await store.outbox.ack('episodes', 1);
    await store.close();
    stores.length = 0;

    store = await openStore();
    expect(store.outbox.stats().episodes).toMatchObject({ next: 4, acked: 1, durable: 3, pendingCount: 2 });
    expect(store.outbox.pending('episodes', 0, 10).map((r) => r.body)).toEqual([{ id: 'b' }, { id: 'c' }]);
    expect(await store.outbox.append('episodes', [{ id: 'd' }])).toEqual({ first: 4, last: 4 });
  });

  it('resolves append only after flushed, not when the transaction is committed', async () => {
    const env = open({ path: join(root, 'gate') });
    try {
      const records = env.openDB<Buffer, [string, number]>({ name: 'outbox', encoding: 'binary' });
      const meta = env.openDB<unknown, string>({ name: 'meta' });
      const outbox = new Outbox({ records, meta, agent: 't', log: silentLogger(), now: Date.now });
      // Hold lmdb-js's durability signal closed to see what waits for it.
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      Object.defineProperty(records, 'flushed', { get: () => gate, configurable: true });

      let settled = false;
      const appended = outbox.append('scores', [{ x: 1 }]).then((r) => ((settled = true), r));
      for (let i = 0; i < 50 && records.getBinary(['scores', 1]) === undefined; i++) await new Promise((r) => setTimeout(r, 10));
      expect(records.getBinary(['scores', 1])).toBeDefined(); // committed and visible…
      await new Promise((r) => setTimeout(r, 50));
      expect(settled).toBe(false); // …but not durable yet: append waits,
      expect(outbox.pending('scores', 0, 10)).toEqual([]); // and the hub may not have it.
      open();
      expect(await appended).toEqual({ first: 1, last: 1 });
      expect(outbox.pending('scores', 0, 10).map((r) => r.seq)).toEqual([1]);
    } finally {
      await env.close();
    }
  });

  it('keeps every resolved append, gap-free, across a kill -9 of the writing process', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `
        const { openAgentStore } = await import(${JSON.stringify(join(repo, 'agent/store/open-store.ts'))});
        const { silentLogger } = await import(${JSON.stringify(join(repo, 'shared/logger.ts'))});
        const store = await openAgentStore({ dir: ${JSON.stringify(dir)}, quotaBytes: 1e9, historyHours: 1, log: silentLogger() });
        for (let i = 0; ; i++) {
          const bodies = Array.from({ length: 20 }, (_, j) => ({ i, j }));
          // Two appends in flight at once, as several producers would.
          const [a, b] = await Promise.all([store.outbox.append('scores', bodies), store.outbox.append('scores', bodies)]);
          process.stdout.write(a.last + ' ' + b.last + '\\n');
        }
        `,
      ],
      { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise((r) => child.on('exit', r));
    const until = Date.now() + 30_000;
    while (out.split('\n').length < 60 && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await exited;
    expect(err).toBe('');
    const confirmed = Math.max(...out.trim().split(/\s+/).map(Number));
    expect(confirmed).toBeGreaterThan(1000);

    const store = await openStore();
    const stats = store.outbox.stats().scores;
    expect(stats.durable).toBeGreaterThanOrEqual(confirmed);
    const seqs = store.outbox.pending('scores', 0, 1_000_000).map((r) => r.seq);
    expect(seqs).toEqual(Array.from({ length: stats.next - 1 }, (_, k) => k + 1));
    expect(await store.outbox.append('scores', [{ after: true }])).toEqual({ first: stats.next, last: stats.next });
  });

  it('clears the reader slot a killed process left behind while the agent runs', async () => {
    const store = await openStore();
    const lmdbPath = createRequire(import.meta.url).resolve('lmdb');
    // A reader that is killed mid-read keeps its slot in lock.mdb.
    const child = spawn(
      process.execPath,
      ['-e', `const { open } = require(${JSON.stringify(lmdbPath)}); const env = open({ path: ${JSON.stringify(dir)} }); const db = env.openDB({ name: 'state' }); const txn = env.useReadTransaction(); db.get('store:openedAt', { transaction: txn }); process.stdout.write('reading'); setInterval(() => {}, 1000);`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;

    expect(store.checkReaders()).toBe(1);
    expect(store.counters().staleReadersCleared).toBe(1);
    expect(store.checkReaders()).toBe(0);
  });

  it('grows the map past its initial size by itself', async () => {
    const store = await openStore({ mapSize: 256 * 1024 });
    const big = 'x'.repeat(1000);
    for (let i = 0; i < 10; i++) await store.outbox.append('scores', Array.from({ length: 500 }, (_, j) => ({ i, j, big })));
    expect(store.outbox.stats().scores.pendingCount).toBe(5000);
    expect(store.sizeBytes().file).toBeGreaterThan(4 * 1024 * 1024);
    expect(store.outbox.pending('scores', 4999, 1)[0]!.body).toEqual({ i: 9, j: 499, big });
  });
});
