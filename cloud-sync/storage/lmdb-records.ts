import { VigilError } from '../../shared/errors.js';
import type { SyncRecord, SyncStream } from '../../shared/sync-protocol.js';
import type { IngestResult, RecordFilter, StoredRecord } from './hub-storage.js';
import { asBinary } from 'lmdb';
import { bodyAt, KEY_MAX, type BatchEntry, type HubDbs, type SeqKey, type StreamCursor } from './lmdb-layout.js';

const CLOSE_BRACE = Buffer.from('}');

/** listRecords without a limit returns this many. */
export const DEFAULT_RECORD_LIMIT = 100;

/**
 * Result records (scores, episodes, events) on the hub. Each ingest stores
 * the records new to the hub as ONE value (columns of seqs, times and
 * bodies, or the records as received) keyed by the first seq it stored, and two index entries for
 * newest-first listing — with the cursor, four puts per batch, not one per
 * record.
 *
 * Idempotency by (stream, agent, epoch, seq) needs to know which seqs are
 * stored without a key per record: the cursor's open run [runStart, upTo] is
 * stored whole, and below it the closed runs in `seqRuns` are (they appear
 * only after gaps: evictions on the agent, or a seq that came late). Agents
 * send in seq order after what the hub said it stored, so a seq above `upTo`
 * is new without any lookup, a resend inside the open run is a duplicate
 * without any lookup, and only seqs below it cost a search.
 */
export class LmdbRecords {
  constructor(private readonly dbs: HubDbs) {}

  /**
   * Stores the records new to the hub; call inside a write transaction (a
   * body that cannot be encoded throws, and the transaction is rolled back).
   * `onStored` sees each new record in batch order (episodes update their
   * table with it in the same transaction). With `recordsText` (the records
   * as the JSON array they arrived in) and every record new, the batch is
   * stored around those bytes as they are: printing 2,000 parsed records as
   * JSON again cost more than parsing them.
   */
  writeBatch(
    agent: string,
    epoch: string,
    stream: SyncStream,
    records: readonly SyncRecord[],
    receivedAt: number,
    onStored: (body: unknown) => void,
    recordsText?: Buffer,
  ): IngestResult {
    const { cursors, recordBatches, batchesByTime, batchesByAgent } = this.dbs;
    const cursorKey: [SyncStream, string, string] = [stream, agent, epoch];
    const before = cursors.get(cursorKey);
    const cursor: StreamCursor = before ? { ...before } : { upTo: 0, count: 0, runStart: 1 };
    const runs = new SeqRuns(this.dbs, stream, agent, epoch, cursor);
    const seqs: number[] = [];
    const ats: number[] = [];
    const bodies: unknown[] = [];
    const models = new Set<string>();
    let lastModel: string | undefined;
    for (const record of records) {
      if (!runs.add(record.seq)) continue;
      seqs.push(record.seq);
      ats.push(record.at);
      bodies.push(record.body);
      const model = (record.body as { model?: unknown } | null)?.model;
      // Records of one model come in runs: the set is only asked when the model changes.
      if (typeof model === 'string' && model !== lastModel) {
        models.add(model);
        lastModel = model;
      }
      onStored(record.body);
    }
    if (seqs.length > 0) {
      const first = seqs[0]!;
      cursor.count += seqs.length;
      cursors.putSync(cursorKey, cursor);
      const key: SeqKey = [stream, agent, epoch, first];
      if (recordsText !== undefined && seqs.length === records.length) {
        // The JSON the 'json' encoding reads back as { receivedAt, seqs, ats, records } (see RecordBatch).
        const head = Buffer.from(`{"receivedAt":${JSON.stringify(receivedAt)},"seqs":${JSON.stringify(seqs)},"ats":${JSON.stringify(ats)},"records":`);
        recordBatches.putSync(key, asBinary(Buffer.concat([head, recordsText, CLOSE_BRACE])) as never);
      } else {
        recordBatches.putSync(key, { receivedAt, seqs, ats, bodies });
      }
      const entry: BatchEntry = { models: [...models] };
      batchesByTime.putSync([stream, receivedAt, agent, epoch, first], entry);
      batchesByAgent.putSync([agent, stream, receivedAt, epoch, first], entry);
    }
    return { stored: seqs.length, duplicates: records.length - seqs.length };
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

  /**
   * Every record of a stream once, in key order of its batches ([agent, epoch,
   * first seq]) and within a batch in stored order. The cursor is the key of
   * the batch to continue in and how many of its records were already given.
   */
  scan(stream: SyncStream, cursor: string | null, limit: number): { records: StoredRecord[]; next: string | null } {
    const at = cursor === null ? null : parseScanCursor(cursor);
    const records: StoredRecord[] = [];
    const start: unknown[] = at === null ? [stream] : [stream, at.agent, at.epoch, at.first];
    for (const { key, value: batch } of this.dbs.recordBatches.getRange({ start: start as SeqKey, end: [stream, KEY_MAX] as unknown as SeqKey })) {
      const [, agent, epoch, first] = key;
      const skip = at !== null && agent === at.agent && epoch === at.epoch && first === at.first ? at.given : 0;
      for (let i = skip; i < batch.seqs.length; i++) {
        if (records.length >= limit) return { records, next: JSON.stringify({ agent, epoch, first, given: i }) };
        records.push({ seq: batch.seqs[i]!, at: batch.ats[i]!, body: bodyAt(batch, i), agent, epoch, stream, receivedAt: batch.receivedAt });
      }
    }
    return { records, next: null };
  }

  /** Newest batch first, each batch's records highest seq first. */
  list(stream: SyncStream, filter: RecordFilter): StoredRecord[] {
    const limit = filter.limit ?? DEFAULT_RECORD_LIMIT;
    const out: StoredRecord[] = [];
    if (limit <= 0) return out;
    const from = filter.from ?? -Infinity;
    const to = filter.to ?? Infinity;
    for (const { agent, epoch, first, entry } of this.batchesNewestFirst(stream, filter.agent, from, to)) {
      if (filter.model !== undefined && !entry.models.includes(filter.model)) continue;
      const batch = this.dbs.recordBatches.get([stream, agent, epoch, first]);
      if (batch === undefined) continue;
      const order = batch.seqs.map((_, i) => i).sort((a, b) => batch.seqs[b]! - batch.seqs[a]!);
      for (const i of order) {
        const body = bodyAt(batch, i);
        if (filter.model !== undefined && (body as { model?: unknown } | null)?.model !== filter.model) continue;
        out.push({ seq: batch.seqs[i]!, at: batch.ats[i]!, body, agent, epoch, stream, receivedAt: batch.receivedAt });
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  private *batchesNewestFirst(
    stream: SyncStream,
    agent: string | undefined,
    from: number,
    to: number,
  ): Generator<{ agent: string; epoch: string; first: number; entry: BatchEntry }> {
    if (agent === undefined) {
      const range = this.dbs.batchesByTime.getRange({ start: [stream, to, KEY_MAX], end: [stream, from], reverse: true });
      for (const { key, value } of range) yield { agent: key[2], epoch: key[3], first: key[4], entry: value };
    } else {
      const range = this.dbs.batchesByAgent.getRange({ start: [agent, stream, to, KEY_MAX], end: [agent, stream, from], reverse: true });
      for (const { key, value } of range) yield { agent, epoch: key[3], first: key[4], entry: value };
    }
  }
}

interface ScanCursor {
  agent: string;
  epoch: string;
  first: number;
  given: number;
}

function parseScanCursor(cursor: string): ScanCursor {
  try {
    const c = JSON.parse(cursor) as Partial<ScanCursor>;
    if (typeof c.agent === 'string' && typeof c.epoch === 'string' && Number.isSafeInteger(c.first) && Number.isSafeInteger(c.given)) return c as ScanCursor;
  } catch {
    // reported below
  }
  throw new VigilError('VIGIL_HUB_STORAGE_FAILED', `not a record scan cursor of this storage: ${cursor.slice(0, 100)}`);
}

/**
 * The stored seqs of one (stream, agent, epoch) during a write: the cursor's
 * open run in memory (the caller saves the cursor), closed runs written to
 * `seqRuns` as they change. Runs never overlap, so the closed run with the
 * highest start ≤ seq is the only one that can hold seq.
 */
class SeqRuns {
  constructor(
    private readonly dbs: HubDbs,
    private readonly stream: SyncStream,
    private readonly agent: string,
    private readonly epoch: string,
    private readonly cursor: StreamCursor,
  ) {}

  /** Marks `seq` stored; false when it already was (a duplicate). */
  add(seq: number): boolean {
    const c = this.cursor;
    if (seq > c.upTo) {
      if (c.upTo < c.runStart) c.runStart = seq; // nothing stored yet
      else if (seq !== c.upTo + 1) {
        // A gap: the open run is closed and a new one starts.
        this.dbs.seqRuns.putSync(this.key(c.runStart), c.upTo);
        c.runStart = seq;
      }
      c.upTo = seq;
      return true;
    }
    if (seq >= c.runStart) return false;
    const before = this.closedRunAtOrBelow(seq);
    if (before !== undefined && before.end >= seq) return false;
    this.fillGap(seq, before);
    return true;
  }

  /** Stores a seq below the open run, merging it with the runs it touches. */
  private fillGap(seq: number, before: { start: number; end: number } | undefined): void {
    const joinsBefore = before !== undefined && before.end === seq - 1;
    const start = joinsBefore ? before.start : seq;
    if (seq + 1 === this.cursor.runStart) {
      // Closes the gap under the open run: the open run grows down.
      if (joinsBefore) this.dbs.seqRuns.removeSync(this.key(before.start));
      this.cursor.runStart = start;
      return;
    }
    let end = seq;
    const after = this.dbs.seqRuns.get(this.key(seq + 1));
    if (after !== undefined) {
      end = after;
      this.dbs.seqRuns.removeSync(this.key(seq + 1));
    }
    this.dbs.seqRuns.putSync(this.key(start), end);
  }

  private closedRunAtOrBelow(seq: number): { start: number; end: number } | undefined {
    for (const { key, value } of this.dbs.seqRuns.getRange({ start: this.key(seq), end: [this.stream, this.agent, this.epoch], reverse: true, limit: 1 })) {
      return { start: key[3], end: value };
    }
    return undefined;
  }

  private key(seq: number): SeqKey {
    return [this.stream, this.agent, this.epoch, seq];
  }
}
