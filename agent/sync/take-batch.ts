import type { OutboxRecord } from '../store/outbox.js';

export interface TakenBatch {
  records: OutboxRecord[];
  /** One record alone that is larger than the byte budget (sent anyway; see below). */
  oversized: boolean;
}

/**
 * The longest prefix of `records` (already in seq order) whose record bytes
 * stay within `maxBytes`. `OutboxRecord.bytes` (the stored JSON plus 32 bytes
 * of key overhead) is slightly more than the record's JSON in the batch, so
 * the batch message stays under the limit with the envelope's few hundred
 * bytes on top.
 *
 * A first record that alone exceeds the budget is returned alone and marked
 * `oversized`. It is NOT skipped: dropping a record locally would put a hole
 * into the hub's sequence that nothing explains (evictions are the only
 * explained gaps), so the agent sends it and lets the hub store or refuse it;
 * the caller logs it.
 */
export function takeBatch(records: readonly OutboxRecord[], maxBytes: number): TakenBatch {
  let bytes = 0;
  let count = 0;
  for (const record of records) {
    if (count > 0 && bytes + record.bytes > maxBytes) break;
    bytes += record.bytes;
    count++;
  }
  return { records: records.slice(0, count), oversized: count === 1 && bytes > maxBytes };
}
