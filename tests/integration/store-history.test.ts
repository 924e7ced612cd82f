import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openAgentStore, type AgentStore } from '../../agent/store/open-store.js';
import { BLOCK_MAX_SAMPLES, BLOCK_MAX_SPAN_MS } from '../../agent/store/history.js';
import type { Quality, Sample } from '../../shared/sample.js';
import { silentLogger } from '../../shared/logger.js';

const T0 = 1_750_000_000_000;
let root: string;
let dir: string;
let clock = T0;
const stores: AgentStore[] = [];

async function openStore(historyHours = 2): Promise<AgentStore> {
  const store = await openAgentStore({ dir, quotaBytes: 1024 ** 3, historyHours, log: silentLogger(), now: () => clock, historyFlushIntervalMs: 60_000 });
  stores.push(store);
  return store;
}

const qualities: Quality[] = ['good', 'uncertain', 'bad'];

/** A deterministic stream: tag, time step, a value per index (NaN every 50th), quality cycling. */
function series(tag: string, start: number, count: number, stepMs: number): Sample[] {
  return Array.from({ length: count }, (_, i) => ({
    tag,
    ts: start + i * stepMs,
    value: i % 50 === 49 ? Number.NaN : Math.sin(i / 10) * 100 + i,
    quality: qualities[i % 3]!,
  }));
}

/** What read must return for these samples: in time order, NaN as null. */
function expected(samples: Sample[], from: number, to: number) {
  const inRange = samples.filter((s) => s.ts >= from && s.ts <= to).sort((a, b) => a.ts - b.ts);
  return {
    ts: inRange.map((s) => s.ts),
    values: inRange.map((s) => (Number.isNaN(s.value) ? null : s.value)),
    quality: inRange.map((s) => s.quality),
  };
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'vigil-history-'));
  dir = join(root, 'store');
  clock = T0;
});

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  rmSync(root, { recursive: true, force: true });
});

describe('history ring', () => {
  it('reads exact ranges across blocks, from the buffer and from disk alike', async () => {
    const store = await openStore();
    // 10 Hz for 5 minutes: many blocks cut by sample count and by span.
    const a = series('pump.a', T0 - 10 * 60_000, 3000, 100);
    const a1 = series('pump.a1', T0 - 10 * 60_000, 500, 333.5); // fractional-ms timestamps, prefix-sharing name
    store.history.append(a);
    store.history.append(a1);
    const from = a[1234]!.ts + 50;
    const to = a[2345]!.ts;
    expect(store.history.read('pump.a', from, to)).toEqual(expected(a, from, to)); // still buffered
    await store.history.flush();
    expect(store.history.snapshot()).toMatchObject({ appended: 3500, written: 3500, buffered: 0 });
    expect(store.history.snapshot().blocks).toBeGreaterThanOrEqual(Math.ceil(3000 / BLOCK_MAX_SAMPLES) + Math.ceil((3000 * 100) / BLOCK_MAX_SPAN_MS) - 1);
    expect(store.history.read('pump.a', from, to)).toEqual(expected(a, from, to));
    expect(store.history.read('pump.a', T0 - 3_600_000, T0)).toEqual(expected(a, T0 - 3_600_000, T0));
    expect(store.history.read('pump.a1', T0 - 3_600_000, T0)).toEqual(expected(a1, T0 - 3_600_000, T0));
    expect(store.history.read('pump', T0 - 3_600_000, T0).ts).toEqual([]);
    // Compact: about 13 bytes a sample for whole-millisecond timestamps.
    expect(store.history.bytes() / 3500).toBeLessThan(20);
  });

  it('merges late and out-of-order samples into time order', async () => {
    const store = await openStore();
    const base = series('t', T0 - 5 * 60_000, 600, 500);
    const shuffled = [...base].sort((x, y) => ((x.ts * 7919) % 1009) - ((y.ts * 7919) % 1009));
    for (let i = 0; i < shuffled.length; i += 37) {
      store.history.append(shuffled.slice(i, i + 37));
      if (i % 111 === 0) await store.history.flush();
    }
    const late = { tag: 't', ts: T0 - 4 * 60_000 + 1, value: 42, quality: 'good' as const };
    store.history.append([late]);
    await store.history.flush();
    expect(store.history.read('t', T0 - 3_600_000, T0)).toEqual(expected([...base, late], T0 - 3_600_000, T0));
  });

  it('reduces long ranges to maxPoints, keeping each bucket’s extremes', async () => {
    const store = await openStore();
    const samples = series('s', T0 - 60_000, 1000, 50);
    samples[500] = { ...samples[500]!, value: 1e6 }; // a spike must survive
    store.history.append(samples);
    const read = store.history.read('s', T0 - 60_000, T0, 100);
    expect(read.ts.length).toBeLessThanOrEqual(100);
    expect(read.ts.length).toBeGreaterThan(90);
    expect(read.values).toContain(1e6);
    expect([...read.ts].sort((x, y) => x - y)).toEqual(read.ts);
    expect(store.history.read('s', T0 - 60_000, T0, 5000).ts).toHaveLength(1000);
  });

  it('survives a reopen and deletes what is older than historyHours', async () => {
    let store = await openStore(2);
    const old = series('x', T0 - 3 * 3_600_000, 600, 1000); // 3 h ago, 10 minutes long
    const recent = series('x', T0 - 30 * 60_000, 600, 1000);
    store.history.append([...old, ...recent]);
    await store.close();
    stores.length = 0;

    store = await openStore(2);
    expect(store.history.read('x', 0, T0)).toEqual(expected([...old, ...recent], 0, T0));
    const bytesBefore = store.history.bytes();
    const expiredSamples = await store.history.expire();
    expect(expiredSamples).toBe(600);
    expect(store.history.snapshot().expired).toBe(600);
    expect(store.history.bytes()).toBeLessThan(bytesBefore);
    expect(store.history.read('x', 0, T0)).toEqual(expected(recent, 0, T0));
    // Expiry is not a quota eviction.
    expect(store.counters().evicted.history).toBe(0);

    await store.close();
    stores.length = 0;
    store = await openStore(2);
    expect(store.history.read('x', 0, T0)).toEqual(expected(recent, 0, T0));
    expect(store.history.bytes()).toBe(store.sizeBytes().history);
  });

  it('a gateway clock stepped an hour ahead does not expire history the sources still call recent', async () => {
    const store = await openStore(2);
    // Source timestamps (the server's clock): 1 h 55 min ago up to now.
    const samples = series('y', T0 - 115 * 60_000, 116, 60_000);
    store.history.append(samples);
    // A gap marker stamped with the stepped agent clock (a source reconnecting after the step).
    store.history.append([{ tag: 'y', ts: T0 + 3_600_000, value: Number.NaN, quality: 'bad' }]);
    await store.history.flush();
    clock = T0 + 3_600_000;
    try {
      // By the stepped wall clock the oldest hour would be older than 2 h; by the newest sample it is not.
      expect(await store.history.expire()).toBe(0);
      expect(store.history.read('y', 0, T0)).toEqual(expected(samples, 0, T0));
      expect(store.history.read('y', T0 + 1, T0 + 3_600_000).ts).toEqual([T0 + 3_600_000]);
      // Time that really passed (new samples two hours later) still expires the old ones.
      store.history.append(series('y', T0 + 3 * 3_600_000, 1, 1000));
      clock = T0 + 3 * 3_600_000;
      expect(await store.history.expire()).toBeGreaterThan(0);
    } finally {
      clock = T0;
    }
  });
});
