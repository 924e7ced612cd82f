import type pg from 'pg';
import { VigilError, describeError } from '../../shared/errors.js';
import type { SyncRecord, SyncStream } from '../../shared/sync-protocol.js';
import type { IngestResult, RecordFilter, StoredRecord } from './hub-storage.js';
import { Conditions, run } from './postgres-sql.js';

/** listRecords without a limit returns this many (as the LMDB backend). */
const DEFAULT_RECORD_LIMIT = 100;

interface RecordRow {
  agent: string;
  epoch: string;
  seq: number;
  at: number;
  received_at: number;
  body: string;
}

/** A batch ready for the database: one record per seq (the first wins), in seq order, bodies encoded. */
export interface EncodedBatch {
  seqs: number[];
  ats: number[];
  models: Array<string | null>;
  bodies: string[];
  /** The decoded bodies, by seq, for the episode table and the score counts. */
  byseq: Map<number, unknown>;
}

/**
 * Encodes every body before anything is written: a body JSON cannot encode
 * (a BigInt, a cycle) rejects the whole batch. Sorted by seq so concurrent
 * ingests of overlapping batches take row locks in one order (no deadlock).
 */
export function encodeBatch(records: readonly SyncRecord[]): EncodedBatch {
  const byseq = new Map<number, unknown>();
  const encoded = new Map<number, { at: number; model: string | null; body: string }>();
  for (const record of records) {
    if (encoded.has(record.seq)) continue;
    let body: string | undefined;
    try {
      body = JSON.stringify(record.body);
    } catch (err) {
      throw new VigilError('VIGIL_HUB_STORAGE_FAILED', `record seq ${record.seq} cannot be stored as JSON: ${describeError(err)}`, { cause: err });
    }
    const model = (record.body as { model?: unknown } | null)?.model;
    // JSON.stringify(undefined) is undefined: store it as null, as a JSON round trip would.
    // A NUL cannot be in a text column (the body's JSON escapes it): such a model name is just not filterable.
    const filterable = typeof model === 'string' && !model.includes('\0') ? model : null;
    encoded.set(record.seq, { at: record.at, model: filterable, body: body ?? 'null' });
    byseq.set(record.seq, record.body);
  }
  const seqs = [...encoded.keys()].sort((a, b) => a - b);
  return {
    seqs,
    ats: seqs.map((seq) => encoded.get(seq)!.at),
    models: seqs.map((seq) => encoded.get(seq)!.model),
    bodies: seqs.map((seq) => encoded.get(seq)!.body),
    byseq,
  };
}

/**
 * Result records (scores, episodes, events) in one table keyed by
 * (stream, agent, epoch, seq): the primary key is what makes a resend a
 * duplicate, across every replica. A cursor row per (stream, agent, epoch)
 * keeps the highest seq and the count, so neither needs a scan.
 */
export class PostgresRecords {
  constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
  ) {}

  /**
   * Inside the ingest transaction: inserts the batch with one statement
   * (duplicates skipped by the primary key) and moves the cursor in the same
   * statement; resolves to the seqs that were new.
   */
  async insert(client: pg.PoolClient, agent: string, epoch: string, stream: SyncStream, batch: EncodedBatch, receivedAt: number): Promise<number[]> {
    if (batch.seqs.length === 0) return [];
    const result = await client.query<{ seq: number }>(
      `WITH stored AS (
         INSERT INTO ${this.s}.records (stream, agent, epoch, seq, at, received_at, model, body)
         SELECT $1, $2, $3, r.seq, r.at, $4, r.model, r.body
         FROM unnest($5::bigint[], $6::float8[], $7::text[], $8::text[]) AS r(seq, at, model, body)
         ON CONFLICT DO NOTHING
         RETURNING seq
       ), cursor AS (
         INSERT INTO ${this.s}.record_cursors AS c (stream, agent, epoch, up_to, count)
         SELECT $1, $2, $3, max(seq), count(*) FROM stored HAVING count(*) > 0
         ON CONFLICT (stream, agent, epoch) DO UPDATE SET up_to = GREATEST(c.up_to, excluded.up_to), count = c.count + excluded.count
       )
       SELECT seq FROM stored`,
      [stream, agent, epoch, receivedAt, batch.seqs, batch.ats, batch.models, batch.bodies],
    );
    return result.rows.map((r) => r.seq).sort((a, b) => a - b);
  }

  async storedUpTo(agent: string, epoch: string, stream: SyncStream): Promise<number> {
    const result = await run<{ up_to: number }>(
      this.pool,
      'reading the stored seq',
      `SELECT up_to FROM ${this.s}.record_cursors WHERE stream = $1 AND agent = $2 AND epoch = $3`,
      [stream, agent, epoch],
    );
    return result.rows[0]?.up_to ?? 0;
  }

  async count(stream: SyncStream, agent?: string): Promise<number> {
    const where = new Conditions().add((p) => `stream = ${p}`, stream).addIf(agent, (p) => `agent = ${p}`);
    const result = await run<{ n: number }>(
      this.pool,
      'counting records',
      `SELECT coalesce(sum(count), 0)::bigint AS n FROM ${this.s}.record_cursors ${where.where}`,
      where.values,
    );
    return result.rows[0]?.n ?? 0;
  }

  /** Newest receive time first; within a batch, highest seq first (the order of the records_newest indexes). */
  async list(stream: SyncStream, filter: RecordFilter): Promise<StoredRecord[]> {
    const limit = filter.limit ?? DEFAULT_RECORD_LIMIT;
    if (limit <= 0) return [];
    const where = new Conditions()
      .add((p) => `stream = ${p}`, stream)
      .addIf(filter.agent, (p) => `agent = ${p}`)
      .addIf(filter.model, (p) => `model = ${p}`)
      .addIf(filter.from, (p) => `received_at >= ${p}`)
      .addIf(filter.to, (p) => `received_at <= ${p}`);
    const result = await run<RecordRow>(
      this.pool,
      'listing records',
      `SELECT agent, epoch, seq, at, received_at, body FROM ${this.s}.records ${where.where}
       ORDER BY received_at DESC, agent DESC, epoch DESC, seq DESC LIMIT ${where.param(limit)}`,
      where.values,
    );
    return result.rows.map((row) => toStored(stream, row));
  }

  /** Keyset pages in primary key order; the cursor is the last key of the previous page, as JSON. */
  async scan(stream: SyncStream, cursor: string | null, limit: number): Promise<{ records: StoredRecord[]; next: string | null }> {
    if (limit <= 0) return { records: [], next: cursor };
    const where = new Conditions().add((p) => `stream = ${p}`, stream);
    if (cursor !== null) {
      const after = parseScanCursor(cursor);
      where.add((a, e, q) => `(agent, epoch, seq) > (${a}, ${e}, ${q})`, after.agent, after.epoch, after.seq);
    }
    // One row more than asked tells whether another page follows.
    const result = await run<RecordRow>(
      this.pool,
      'scanning records',
      `SELECT agent, epoch, seq, at, received_at, body FROM ${this.s}.records ${where.where}
       ORDER BY agent, epoch, seq LIMIT ${where.param(limit + 1)}`,
      where.values,
    );
    const rows = result.rows.slice(0, limit);
    const last = rows[rows.length - 1];
    const next = result.rows.length > limit && last ? JSON.stringify({ agent: last.agent, epoch: last.epoch, seq: last.seq }) : null;
    return { records: rows.map((row) => toStored(stream, row)), next };
  }
}

function toStored(stream: SyncStream, row: RecordRow): StoredRecord {
  return { agent: row.agent, epoch: row.epoch, stream, seq: row.seq, at: row.at, receivedAt: row.received_at, body: JSON.parse(row.body) as unknown };
}

function parseScanCursor(cursor: string): { agent: string; epoch: string; seq: number } {
  try {
    const parsed = JSON.parse(cursor) as { agent?: unknown; epoch?: unknown; seq?: unknown };
    if (typeof parsed.agent === 'string' && typeof parsed.epoch === 'string' && typeof parsed.seq === 'number') {
      return { agent: parsed.agent, epoch: parsed.epoch, seq: parsed.seq };
    }
  } catch {
    // reported below
  }
  throw new VigilError('VIGIL_API_BAD_REQUEST', `not a record scan cursor of this storage: ${JSON.stringify(cursor).slice(0, 80)}`);
}
