import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openAgentStore, type AgentStore, type StoreEvent } from '../../agent/store/open-store.js';
import type { AgentEvent } from '../../shared/episode.js';
import type { Sample } from '../../shared/sample.js';
import { silentLogger } from '../../shared/logger.js';

const HOUR = 3_600_000;
const T0 = 1_750_000_000_000;
let root: string;
let dir: string;
let clock = T0;
const stores: AgentStore[] = [];
let events: StoreEvent[] = [];

async function openStore(quotaBytes: number): Promise<AgentStore> {
  const store = await openAgentStore({
    dir,
    quotaBytes,
    historyHours: 1000,
    log: silentLogger(),
    now: () => clock,
    agent: 'gw-1',
    onEvent: (e) => events.push(e),
    historyFlushIntervalMs: 60_000,
  });
  stores.push(store);
  return store;
}

async function reopen(store: AgentStore, quotaBytes: number): Promise<AgentStore> {
  await store.close();
  stores.splice(stores.indexOf(store), 1);
  const next = await openStore(quotaBytes);
  await next.enforceQuota();
  return next;
}

/** 30 minutes of one sample per second for three tags, starting at `start`. */
function halfHour(start: number): Sample[] {
  const out: Sample[] = [];
  for (let i = 0; i < 1800; i++) for (const tag of ['a', 'b', 'c']) out.push({ tag, ts: start + i * 1000, value: i, quality: 'good' });
  return out;
}

function evictionRecords(store: AgentStore): AgentEvent[] {
  return store.outbox
    .pending('events', 0, 100_000)
    .map((r) => r.body as AgentEvent)
    .filter((e) => e.kind === 'store_eviction');
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'vigil-quota-'));
  dir = join(root, 'store');
  clock = T0;
  events = [];
});

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  rmSync(root, { recursive: true, force: true });
});

describe('store quota', () => {
  it('evicts history and scores oldest first, keeps events and episodes, and tells the hub the exact seqs', async () => {
    let store = await openStore(1024 ** 3);
    const bytes = () => ({ history: store.history.bytes(), scores: store.outbox.streamBytes('scores') });
    store.history.append(halfHour(T0 - 3 * HOUR)); // oldest
    await store.history.flush();
    const h1 = bytes().history;
    clock = T0 - 2 * HOUR;
    await store.outbox.append('scores', Array.from({ length: 100 }, (_, i) => ({ old: i })));
    const s1 = bytes().scores;
    store.history.append(halfHour(T0 - HOUR));
    await store.history.flush();
    const h2 = bytes().history - h1;
    clock = T0;
    await store.outbox.append('scores', Array.from({ length: 100 }, (_, i) => ({ recent: i })));
    await store.outbox.append('events', Array.from({ length: 20 }, (_, i) => ({ kind: 'source_connected', i })));
    await store.outbox.append('episodes', Array.from({ length: 20 }, (_, i) => ({ id: `e${i}` })));
    const used = store.sizeBytes().used;
    expect(store.counters().evicted).toEqual({ history: 0, scores: 0, events: 0, episodes: 0 });

    // Lower the quota so that the old half hour, the old scores and about half
    // of the newer half hour must go (eviction frees down to 90 % of the quota).
    store = await reopen(store, Math.floor((used - h1 - s1 - h2 / 2) / 0.9));
    const counters = store.counters();
    expect(counters.evicted.scores).toBe(100);
    expect(counters.evicted.events).toBe(0);
    expect(counters.evicted.episodes).toBe(0);
    expect(counters.evicted.history).toBeGreaterThanOrEqual(3 * 1800);
    expect(counters.evicted.history).toBeLessThan(2 * 3 * 1800);
    expect(store.sizeBytes().used).toBeLessThanOrEqual(store.sizeBytes().quota * 0.9);

    // What is left is the newest: old history gone, the end of the new half hour kept.
    expect(store.history.read('a', T0 - 4 * HOUR, T0 - 2 * HOUR).ts).toEqual([]);
    const kept = store.history.read('a', T0 - HOUR, T0);
    expect(kept.ts.length).toBeGreaterThan(0);
    expect(kept.ts.at(-1)).toBe(T0 - HOUR + 1799 * 1000);
    // pending never returns evicted records; the recent scores are all there.
    const scores = store.outbox.pending('scores', 0, 1000);
    expect(scores.map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => 101 + i));
    expect(store.outbox.pending('episodes', 0, 1000)).toHaveLength(20);

    // The hub learns exactly which seqs were evicted; the owner hears it too.
    const scoreEvictions = evictionRecords(store).filter((e) => e.details?.stream === 'scores');
    expect(scoreEvictions.map((e) => e.details)).toEqual([{ stream: 'scores', fromSeq: 1, toSeq: 100, count: 100, bytes: s1 }]);
    expect(scoreEvictions[0]!.agent).toBe('gw-1');
    expect(evictionRecords(store).some((e) => e.details?.stream === 'history')).toBe(true);
    expect(events.filter((e) => e.kind === 'store_eviction').map((e) => e.details.stream)).toEqual(expect.arrayContaining(['history', 'scores']));
  });

  it('evicts events before episodes, and episodes only when nothing else is left', async () => {
    let store = await openStore(1024 ** 3);
    await store.outbox.append('scores', Array.from({ length: 30 }, (_, i) => ({ s: i })));
    await store.outbox.append('events', Array.from({ length: 50 }, (_, i) => ({ kind: 'source_connected', i, pad: 'x'.repeat(100) })));
    await store.outbox.append('episodes', Array.from({ length: 50 }, (_, i) => ({ id: `ep-${i}`, pad: 'y'.repeat(100) })));
    const episodesBytes = store.outbox.streamBytes('episodes');

    // Room for about half of the episodes only.
    store = await reopen(store, Math.floor(episodesBytes / 2));
    const evicted = store.counters().evicted;
    expect(evicted.scores).toBe(30);
    expect(evicted.events).toBeGreaterThanOrEqual(50);
    expect(evicted.episodes).toBeGreaterThan(0);
    expect(evicted.episodes).toBeLessThan(50);
    expect(store.outbox.pending('scores', 0, 100)).toEqual([]);

    const episodes = store.outbox.pending('episodes', 0, 100);
    expect(episodes[0]!.seq).toBe(evicted.episodes + 1);
    expect(episodes.at(-1)!.seq).toBe(50);
    // Every pending event is one of the store's own eviction records written
    // after the original events went.
    expect(store.outbox.pending('events', 0, 1000).every((r) => (r.body as AgentEvent).kind === 'store_eviction')).toBe(true);
    expect(events.filter((e) => e.details.stream === 'episodes').map((e) => e.details)).toEqual([
      { stream: 'episodes', fromSeq: 1, toSeq: evicted.episodes, count: evicted.episodes, bytes: expect.any(Number) },
    ]);
  });

  it('keeps pending, acked and evicted disjoint and complete while appends, acks and evictions interleave', async () => {
    const store = await openStore(1024 ** 3);
    const evictedSeqs = new Set<number>();
    let acked = 0;
    for (let round = 0; round < 30; round++) {
      const append = store.outbox.append('scores', Array.from({ length: 1 + (round % 7) }, (_, i) => ({ round, i })));
      const evict = round % 3 === 0 ? store.outbox.evict('scores', 150) : Promise.resolve(null);
      await append;
      const range = await evict;
      if (range) for (let s = range.fromSeq; s <= range.toSeq; s++) evictedSeqs.add(s);
      const pending = store.outbox.pending('scores', 0, 10_000).map((r) => r.seq);
      for (const seq of pending) {
        expect(evictedSeqs.has(seq)).toBe(false);
        expect(seq).toBeGreaterThan(acked);
      }
      if (round % 4 === 1 && pending.length > 0) {
        acked = pending[Math.floor(pending.length / 2)]!;
        await store.outbox.ack('scores', acked);
      }
      const { next } = store.outbox.stats().scores;
      const after = new Set(store.outbox.pending('scores', 0, 10_000).map((r) => r.seq));
      for (let seq = 1; seq < next; seq++) {
        const places = Number(after.has(seq)) + Number(evictedSeqs.has(seq) && seq > acked) + Number(seq <= acked);
        expect(places, `seq ${seq}`).toBeGreaterThanOrEqual(1);
        expect(Number(after.has(seq)) + Number(evictedSeqs.has(seq))).toBeLessThanOrEqual(1);
      }
    }
    expect(evictedSeqs.size).toBeGreaterThan(0);
  });
});
