import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubStorage } from '../../cloud-sync/storage/hub-storage.js';
import { openLmdbHubStorage } from '../../cloud-sync/storage/lmdb-storage.js';

// LMDB keeps a batch's records as one value and knows which seqs it has from
// runs (the cursor's open run, closed runs below it) instead of a key per
// record. Compared here with a plain set of seqs on arbitrary ingests: gaps,
// late seqs, resends, duplicates inside a call, any order.

let root: string;
let storage: HubStorage;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'vigil-hub-runs-'));
  storage = await openLmdbHubStorage(join(root, 'store'));
});

afterAll(async () => {
  await storage.close();
  rmSync(root, { recursive: true, force: true });
});

const records = (seqs: number[]) => seqs.map((seq) => ({ seq, at: seq * 10, body: { seq } }));

describe('hub storage (lmdb): which seqs are stored', () => {
  it('counts, lists and resumes exactly like a set of seqs would', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 8 }), async (calls) => {
        const agent = `runs-${run++}`;
        const have = new Set<number>();
        let receivedAt = 1_000;
        for (const seqs of calls) {
          const fresh = new Set(seqs.filter((s) => !have.has(s)));
          const result = await storage.ingest(agent, 'e1', 'events', records(seqs), receivedAt++);
          expect(result).toEqual({ stored: fresh.size, duplicates: seqs.length - fresh.size });
          for (const s of fresh) have.add(s);
        }
        expect(await storage.countRecords('events', agent)).toBe(have.size);
        expect(await storage.storedUpTo(agent, 'e1', 'events')).toBe(Math.max(...have));
        const listed = await storage.listRecords('events', { agent, limit: 1000 });
        expect(listed.map((r) => r.seq).sort((a, b) => a - b)).toEqual([...have].sort((a, b) => a - b));
        for (const r of listed) expect(r).toMatchObject({ at: r.seq * 10, body: { seq: r.seq }, epoch: 'e1', agent });
        // Every seq 1..41 again: exactly the ones it lacks are new.
        const all = Array.from({ length: 41 }, (_, i) => i + 1);
        expect(await storage.ingest(agent, 'e1', 'events', records(all), receivedAt)).toEqual({ stored: 41 - have.size, duplicates: have.size });
      }),
      { numRuns: 60 },
    );
  });

  it('fills gaps below the open run, joining the runs around them', async () => {
    let receivedAt = 5_000;
    const at = (seqs: number[]) => storage.ingest('gaps', 'e1', 'scores', records(seqs), receivedAt++);
    expect(await at([1, 2, 3, 10, 11, 20])).toEqual({ stored: 6, duplicates: 0 });
    expect(await at([5, 4, 19, 18, 12, 13, 9])).toEqual({ stored: 7, duplicates: 0 });
    expect(await at([6, 7, 8, 14, 15, 16, 17])).toEqual({ stored: 7, duplicates: 0 });
    expect(await at(Array.from({ length: 20 }, (_, i) => i + 1))).toEqual({ stored: 0, duplicates: 20 });
    expect(await at([21, 3, 22])).toEqual({ stored: 2, duplicates: 1 });
    expect(await storage.countRecords('scores', 'gaps')).toBe(22);
    // Newest batch first, highest seq first within a batch.
    expect((await storage.listRecords('scores', { agent: 'gaps', limit: 9 })).map((r) => r.seq)).toEqual([22, 21, 17, 16, 15, 14, 8, 7, 6]);
  });
});
