import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openAgentStore, type AgentStore } from '../../agent/store/open-store.js';
import { silentLogger } from '../../shared/logger.js';

// An ack deletes records the drain has just read; the outbox keeps their byte
// charges from that read instead of reading them again. Whatever the order of
// reads, acks and evictions, the counts and bytes must be those of a reread.

let root: string;
let store: AgentStore;

const open = () => openAgentStore({ dir: join(root, 'store'), quotaBytes: 1024 ** 3, historyHours: 1, log: silentLogger() });

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'vigil-ack-charges-'));
  store = await open();
});

afterEach(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

/** Count and bytes of what is pending, read from disk. */
function reread(s: AgentStore) {
  const all = s.outbox.pendingStored('scores', 0, 1_000_000);
  return { count: all.length, bytes: all.reduce((sum, r) => sum + r.bytes, 0) };
}

function expectConsistent(s: AgentStore): void {
  const stats = s.outbox.stats().scores;
  const disk = reread(s);
  expect({ count: stats.pendingCount, bytes: stats.pendingBytes }).toEqual(disk);
}

describe('outbox acks from remembered charges', () => {
  it('keeps count and bytes exact through reads, partial and repeated reads, acks and an eviction', async () => {
    await store.outbox.append('scores', Array.from({ length: 300 }, (_, i) => ({ i, pad: 'x'.repeat(i % 37) })));
    const { outbox } = store;
    outbox.pendingStored('scores', 0, 100);
    await outbox.ack('scores', 40);
    expectConsistent(store);
    // A read that starts inside what was read before (a resend), then one after it.
    outbox.pendingStored('scores', 60, 50);
    outbox.pendingStored('scores', 110, 50);
    await outbox.ack('scores', 150);
    expectConsistent(store);
    // Acked beyond anything read: read from disk.
    await outbox.ack('scores', 200);
    expectConsistent(store);
    outbox.pendingStored('scores', 200, 50);
    const evicted = await outbox.evict('scores', 500);
    expect(evicted?.fromSeq).toBe(201);
    expectConsistent(store);
    await outbox.ack('scores', 260);
    expectConsistent(store);
    expect(outbox.pendingStored('scores', 0, 1000)[0]!.seq).toBe(261);

    await store.close();
    store = await open();
    expectConsistent(store);
    expect(store.outbox.stats().scores.acked).toBe(260);
  });

  it('keeps them exact when an ack arrives for records an eviction already removed', async () => {
    await store.outbox.append('scores', Array.from({ length: 100 }, (_, i) => ({ i })));
    const { outbox } = store;
    outbox.visitPendingStored('scores', 0, 100, () => true);
    const evicted = await outbox.evict('scores', 4000);
    expect(evicted!.toSeq).toBeGreaterThan(30);
    // The hub acks a batch sent before the eviction: below the floor, nothing is left to delete.
    await outbox.ack('scores', 30);
    expectConsistent(store);
    await outbox.ack('scores', 100);
    expectConsistent(store);
    expect(store.outbox.stats().scores.pendingCount).toBe(0);
  });

  it('keeps them exact when the drain reads in place (visitPendingStored), also when a visit stops early', async () => {
    await store.outbox.append('scores', Array.from({ length: 200 }, (_, i) => ({ i, pad: 'x'.repeat(i % 41) })));
    const { outbox } = store;
    const seen: number[] = [];
    expect(outbox.visitPendingStored('scores', 0, 100, (seq, stored, bytes) => {
      expect(bytes).toBe(stored.length + 32);
      seen.push(seq);
      return seq < 70;
    })).toBe(69);
    expect(seen).toEqual(Array.from({ length: 70 }, (_, i) => i + 1));
    await outbox.ack('scores', 69);
    expectConsistent(store);
    // Resent from inside what was read, then beyond it.
    expect(outbox.visitPendingStored('scores', 50, 60, () => true)).toBe(60);
    await outbox.ack('scores', 110);
    expectConsistent(store);
    expect(outbox.visitPendingStored('scores', 0, 1000, () => true)).toBe(90);
    await outbox.ack('scores', 200);
    expectConsistent(store);
    expect(outbox.visitPendingStored('scores', 0, 1000, () => true)).toBe(0);
  });
});
