import type { SyncRecord, SyncStream } from '../../shared/sync-protocol.js';
import type { IngestResult, RecordFilter, StoredRecord } from './hub-storage.js';
import { KEY_MAX, type BatchEntry, type HubDbs, type StreamCursor } from './lmdb-layout.js';

/** listRecords without a limit returns this many. */
export const DEFAULT_RECORD_LIMIT = 100;

/**
 * Result records (scores, episodes, events) on the hub: stored once per
 * (stream, agent, epoch, seq), counted per (stream, agent, epoch) cursor, and
 * listed newest first through a per-batch index (a batch shares one receive
 * time), which costs two index entries per batch instead of one per record.
 */
export class LmdbRecords {
  constructor(private readonly dbs: HubDbs) {}

  /**
   * Stores the records new to the hub; call inside a write transaction (a
   * body that cannot be encoded throws, and the transaction is rolled back).
   * `onStored` sees each new record in batch order (episodes update their
   * table with it in the same transaction).
   */
  writeBatch(
    agent: string,
    epoch: string,
    stream: SyncStream,
    records: readonly SyncRecord[],
    receivedAt: number,
    onStored: (body: unknown) => void,
  ): IngestResult {
    const { records: db, cursors } = this.dbs;
    const cursorKey: [SyncStream, string, string] = [stream, agent, epoch];
    const cursor: StreamCursor = cursors.get(cursorKey) ?? { upTo: 0, count: 0 };
    // Agents send in seq order after what the hub said it stored, so a seq
    // above everything seen so far needs no lookup; only resends are checked.
    let highest = cursor.upTo;
    const runs: number[] = [];
    const models = new Set<string>();
    let stored = 0;
    for (const record of records) {
      const key: [SyncStream, string, string, number] = [stream, agent, epoch, record.seq];
      if (record.seq <= highest && db.doesExist(key)) continue;
      db.putSync(key, { at: record.at, receivedAt, body: record.body });
      highest = Math.max(highest, record.seq);
      stored++;
      const lastRun = runs.length - 1;
      if (lastRun > 0 && runs[lastRun] === record.seq - 1) runs[lastRun] = record.seq;
      else runs.push(record.seq, record.seq);
      const model = (record.body as { model?: unknown } | null)?.model;
      if (typeof model === 'string') models.add(model);
      onStored(record.body);
    }
    if (stored > 0) {
      cursors.putSync(cursorKey, { upTo: highest, count: cursor.count + stored });
      const entry: BatchEntry = { runs, models: [...models] };
      this.dbs.batchesByTime.putSync([stream, receivedAt, agent, epoch, runs[0]!], entry);
      this.dbs.batchesByAgent.putSync([agent, stream, receivedAt, epoch, runs[0]!], entry);
    }
    return { stored, duplicates: records.length - stored };
  }

  storedUpTo(agent: string, epoch: string, stream: SyncStream): number {
    return this.dbs.cursors.get([stream, agent, epoch])?.upTo ?? 0;
  }

  count(stream: SyncStream, agent?: string): number {
    const prefix = agent === undefined ? [stream] : [stream, agent];
    let total = 0;
    for (const { value } of this.dbs.cursors.getRange({ start: prefix, end: [...prefix, KEY_MAX] })) total += value.count;
    return total;
  }

  /** Newest batch first, each batch's records highest seq first. */
  list(stream: SyncStream, filter: RecordFilter): StoredRecord[] {
    const limit = filter.limit ?? DEFAULT_RECORD_LIMIT;
    const out: StoredRecord[] = [];
    if (limit <= 0) return out;
    const from = filter.from ?? -Infinity;
    const to = filter.to ?? Infinity;
    for (const batch of this.batchesNewestFirst(stream, filter.agent, from, to)) {
      if (filter.model !== undefined && !batch.entry.models.includes(filter.model)) continue;
      for (let i = batch.entry.runs.length - 2; i >= 0; i -= 2) {
        const lo = batch.entry.runs[i]!;
        const hi = batch.entry.runs[i + 1]!;
        const range = this.dbs.records.getRange({
          start: [stream, batch.agent, batch.epoch, hi],
          end: [stream, batch.agent, batch.epoch, lo - 1],
          reverse: true,
        });
        for (const { key, value } of range) {
          if (filter.model !== undefined && (value.body as { model?: unknown } | null)?.model !== filter.model) continue;
          out.push({ seq: key[3], at: value.at, body: value.body, agent: batch.agent, epoch: batch.epoch, stream, receivedAt: value.receivedAt });
          if (out.length >= limit) return out;
        }
      }
    }
    return out;
  }

  private *batchesNewestFirst(
    stream: SyncStream,
    agent: string | undefined,
    from: number,
    to: number,
  ): Generator<{ agent: string; epoch: string; entry: BatchEntry }> {
    if (agent === undefined) {
      const range = this.dbs.batchesByTime.getRange({ start: [stream, to, KEY_MAX], end: [stream, from], reverse: true });
      for (const { key, value } of range) yield { agent: key[2], epoch: key[3], entry: value };
    } else {
      const range = this.dbs.batchesByAgent.getRange({ start: [agent, stream, to, KEY_MAX], end: [agent, stream, from], reverse: true });
      for (const { key, value } of range) yield { agent, epoch: key[3], entry: value };
    }
  }
}
