import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAgentStore, type AgentStore } from '../../agent/store/open-store.js';
import { batchMessage, takeBatch, takeBatchMessage } from '../../agent/sync/take-batch.js';
import { silentLogger } from '../../shared/logger.js';
import { MAX_BATCH_BYTES, parseAgentMessage } from '../../shared/sync-protocol.js';

// The drain splices the outbox's stored bytes into its batch message instead
// of parsing each record and printing it again. The message must be the very
// text the parse-and-print way made, for any body an append can take.

let root: string;
let store: AgentStore;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'vigil-batch-message-'));
  store = await openAgentStore({ dir: join(root, 'store'), quotaBytes: 1024 ** 3, historyHours: 1, log: silentLogger() });
});

afterAll(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

/** The batch text as the drain printed it before: parse every record, print the whole message. */
function printed(epoch: string, after: number, limit: number): string {
  const records = store.outbox.pending('events', after, limit);
  return JSON.stringify({
    type: 'batch',
    stream: 'events',
    epoch,
    first: records[0]!.seq,
    last: records.at(-1)!.seq,
    records: records.map((r) => ({ seq: r.seq, at: r.at, body: r.body })),
  });
}

describe('batchMessage', () => {
  it('is the text JSON.stringify makes of the parsed records, for any appended body', async () => {
    const bodies = [
      { model: 'pump-pca', score: 1 / 3, tags: { 'p.temp': 0.41, '1': 'numeric key', 'ü': '✓ ünïcödé 𝄞' } },
      'a "quoted" \\ string with \n control \u0001 characters and a lone \ud800 surrogate',
      [1e21, 1e-7, -0, 5e-324, Number.MAX_SAFE_INTEGER + 2],
      { nan: Number.NaN, inf: Number.POSITIVE_INFINITY, gone: undefined, date: new Date(0), nested: [[[{}]]] },
      null,
      0,
      false,
      JSON.parse('{"__proto__":{"polluted":true}}') as unknown,
    ];
    await store.outbox.append('events', bodies);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.jsonValue(), { minLength: 1, maxLength: 20 }), async (more) => {
        const { first, last } = await store.outbox.append('events', more);
        const spliced = batchMessage('events', 'epoch-1', store.outbox.pendingStored('events', first - 1, last - first + 1)).toString('utf8');
        expect(spliced).toBe(printed('epoch-1', first - 1, last - first + 1));
      }),
      { numRuns: 100 },
    );
    const all = store.outbox.pendingStored('events', 0, 100);
    const bytes = batchMessage('events', 'epoch-1', all.slice(0, bodies.length));
    // Valid UTF-8 (a text frame's payload must be), lone surrogates escaped by JSON.stringify.
    expect(Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes)).toBe(true);
    const text = bytes.toString('utf8');
    expect(text).toBe(printed('epoch-1', 0, bodies.length));
    const parsed = parseAgentMessage(text);
    expect(parsed.ok && parsed.message.type === 'batch' && parsed.message.records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('keeps a batch within the byte budget', async () => {
    const { first } = await store.outbox.append('events', Array.from({ length: 40 }, (_, i) => ({ i, blob: 'x'.repeat(110_000 + i) })));
    const { records } = takeBatch(store.outbox.pendingStored('events', first - 1, 2000), MAX_BATCH_BYTES - 1024);
    expect(records.length).toBeGreaterThan(30);
    expect(records.length).toBeLessThan(40);
    expect(Buffer.byteLength(batchMessage('events', 'epoch-1', records))).toBeLessThanOrEqual(MAX_BATCH_BYTES);
  });

  it('refuses stored bytes that do not begin with {"at":', () => {
    expect(() => batchMessage('events', 'e', [{ seq: 1, stored: Buffer.from('{"body":1,"at":2}'), bytes: 50 }])).toThrow(/not stored as/);
  });
});

// The drain reads and splices in one pass (takeBatchMessage, records read in
// place); it must send the very bytes takeBatch + batchMessage make.
describe('takeBatchMessage', () => {
  const twoPass = (after: number, limit: number, maxBytes: number) => {
    const { records, oversized } = takeBatch(store.outbox.pendingStored('events', after, limit), maxBytes);
    return { message: batchMessage('events', 'epoch-1', records), first: records[0]!.seq, last: records.at(-1)!.seq, count: records.length, oversized, firstBytes: records[0]!.bytes };
  };

  it('makes the bytes takeBatch and batchMessage make, for any appended bodies, limits and budgets', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.jsonValue(), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 4000 }),
        async (bodies, limit, maxBytes) => {
          const { first, last } = await store.outbox.append('events', bodies);
          for (let after = first - 1; after < last; ) {
            const batch = takeBatchMessage(store.outbox, 'events', 'epoch-1', after, limit, maxBytes);
            expect(batch).toEqual(twoPass(after, limit, maxBytes));
            after = batch!.last;
          }
          expect(takeBatchMessage(store.outbox, 'events', 'epoch-1', last, limit, maxBytes)).toBeNull();
        },
      ),
      { numRuns: 100 },
    );
  });

  it('grows past its scratch space for a batch of several MB, and sends an oversized record alone', async () => {
    const { first, last } = await store.outbox.append('events', Array.from({ length: 40 }, (_, i) => ({ i, blob: 'y'.repeat(110_000 + i) })));
    const batch = takeBatchMessage(store.outbox, 'events', 'epoch-1', first - 1, 2000, MAX_BATCH_BYTES - 1024)!;
    // Buffers of MBs compared with equals: toEqual walks them byte by byte.
    const { message, ...expected } = twoPass(first - 1, 2000, MAX_BATCH_BYTES - 1024);
    expect(batch.message.equals(message)).toBe(true);
    expect({ ...batch, message: null }).toEqual({ ...expected, message: null });
    expect(batch.message.length).toBeGreaterThan(3 * 1024 * 1024);
    expect(batch.message.length).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    const huge = await store.outbox.append('events', [{ blob: 'z'.repeat(MAX_BATCH_BYTES) }]);
    const alone = takeBatchMessage(store.outbox, 'events', 'epoch-1', huge.first - 1, 2000, MAX_BATCH_BYTES - 1024)!;
    expect({ ...alone, message: null }).toMatchObject({ first: huge.first, last: huge.first, count: 1, oversized: true });
    expect(alone.message.equals(twoPass(huge.first - 1, 2000, MAX_BATCH_BYTES - 1024).message)).toBe(true);
    // The message is the batch's own: reading the next batch does not change it.
    const copy = Buffer.from(batch.message);
    takeBatchMessage(store.outbox, 'events', 'epoch-1', first - 1, 5, 10_000_000);
    expect(batch.message.equals(copy)).toBe(true);
    expect(last).toBe(huge.first - 1);
  });
});
