import type { SyncStream } from '../../shared/sync-protocol.js';
import type { StoredOutboxRecord } from '../store/outbox.js';

export interface TakenBatch<R> {
  records: R[];
  /** One record alone that is larger than the byte budget (sent anyway; see below). */
  oversized: boolean;
}

/**
 * The longest prefix of `records` (already in seq order) whose record bytes
 * stay within `maxBytes`. `bytes` (the stored JSON plus 32 bytes of key
 * overhead) is more than the record takes in the batch (stored JSON plus at
 * most 25 bytes of `"seq":…,`), so the batch message stays under the limit
 * with the envelope's few hundred bytes on top.
 *
 * A first record that alone exceeds the budget is returned alone and marked
 * `oversized`. It is NOT skipped: dropping a record locally would put a hole
 * into the hub's sequence that nothing explains (evictions are the only
 * explained gaps), so the agent sends it and lets the hub store or refuse it;
 * the caller logs it.
 */
export function takeBatch<R extends { bytes: number }>(records: readonly R[], maxBytes: number): TakenBatch<R> {
  let bytes = 0;
  let count = 0;
  for (const record of records) {
    if (count > 0 && bytes + record.bytes > maxBytes) break;
    bytes += record.bytes;
    count++;
  }
  return { records: records.slice(0, count), oversized: count === 1 && bytes > maxBytes };
}

const COMMA = 0x2c;

/** Whether stored bytes begin with `{"at":`, as every stored outbox record does (see StoredOutboxRecord). */
function startsWithAt(stored: Buffer): boolean {
  return stored[0] === 0x7b && stored[1] === 0x22 && stored[2] === 0x61 && stored[3] === 0x74 && stored[4] === 0x22 && stored[5] === 0x3a;
}

/**
 * The batch message for `records` (in seq order, at least one), built from
 * the outbox's stored bytes: each record becomes `{"seq":S,` followed by its
 * stored JSON without the opening brace — `{"seq":S,"at":…,"body":…}`, the
 * text `JSON.stringify` would print for the parsed record, without parsing
 * and printing 2,000 records per batch. Returned as UTF-8 bytes (the stored
 * records are JSON.stringify output, so valid UTF-8) for a text frame.
 */
export function batchMessage(stream: SyncStream, epoch: string, records: readonly StoredOutboxRecord[]): Buffer {
  const first = records[0]!.seq;
  const last = records[records.length - 1]!.seq;
  const head = `${JSON.stringify({ type: 'batch', stream, epoch, first, last }).slice(0, -1)},"records":[`;
  let size = Buffer.byteLength(head) + 2;
  for (const record of records) size += record.stored.length + 26;
  const out = Buffer.allocUnsafe(size);
  let at = out.write(head, 0, 'utf8');
  for (let i = 0; i < records.length; i++) {
    const { seq, stored } = records[i]!;
    if (!startsWithAt(stored)) {
      throw new Error(`outbox record #${seq} is not stored as {"at":…}: cannot splice it into a batch`);
    }
    if (i > 0) out[at++] = COMMA;
    at += out.write(`{"seq":${seq},`, at, 'latin1');
    at += stored.copy(out, at, 1);
  }
  at += out.write(']}', at, 'latin1');
  // Bytes, not a string: the socket sends them as they are (decoding 600 KB
  // here and encoding it again in ws cost ~0.3 µs per record).
  return out.subarray(0, at);
}
