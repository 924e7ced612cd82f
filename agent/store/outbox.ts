import type { Database, RootDatabase } from 'lmdb';
import type { Logger } from '../../shared/logger.js';
import type { AgentEvent } from '../../shared/episode.js';
import { whenDurable } from './when-durable.js';

/** The outbox's streams; each has its own gap-free sequence numbers from 1. */
export const OUTBOX_STREAMS = ['scores', 'episodes', 'events'] as const;
export type OutboxStream = (typeof OUTBOX_STREAMS)[number];

export interface OutboxRecord {
  seq: number;
  /** Wall-clock time of the `append`, ms. */
  at: number;
  body: unknown;
  /** Bytes this record is charged against the quota (value + key overhead). */
  bytes: number;
}

/**
 * A pending record as it is stored, for a sender that splices it into a
 * message instead of parsing and printing it again: `stored` is the UTF-8 JSON
 * `append` wrote, always an object whose first member is `at`:
 * `{"at":<ms>,"body":…}` (`body` absent when it was undefined).
 */
export interface StoredOutboxRecord {
  seq: number;
  stored: Buffer;
  /** As in OutboxRecord. */
  bytes: number;
}

export interface OutboxStreamStats {
  /** The seq the next appended record gets. */
  next: number;
  /** Highest seq the hub has acknowledged (0: none). */
  acked: number;
  /** Highest seq known to be on disk; `pending` never returns more. */
  durable: number;
  pendingCount: number;
  pendingBytes: number;
  oldestPendingAt: number | null;
}

/** What one eviction removed from a stream: the hub sees it as an `events` record. */
export interface EvictedRange {
  stream: OutboxStream;
  fromSeq: number;
  toSeq: number;
  count: number;
  bytes: number;
}

/** Byte charges of contiguous records from `first`, as `pendingStored` read them. */
interface ReadCharges {
  first: number;
  bytes: number[];
}
/** At most this many charges are kept per stream (a few batches in flight). */
const MAX_KEPT_CHARGES = 100_000;

/** Seqs from..to of a stream, to delete: an ack deletes thousands at once, kept as one range instead of a key each. */
interface SeqRange {
  stream: OutboxStream;
  from: number;
  to: number;
}

/** Adds from..to to `ranges`, extending the last range when it continues it. */
function addToRanges(ranges: SeqRange[], stream: OutboxStream, from: number, to: number): void {
  const last = ranges[ranges.length - 1];
  if (last !== undefined && last.stream === stream && last.to + 1 === from) last.to = to;
  else ranges.push({ stream, from, to });
}

/** Charged per record beyond its encoded value: the ordered-binary key and LMDB's node header. */
export const RECORD_OVERHEAD_BYTES = 32;
/** One LMDB transaction carries at most this many records; the rest waits for the next. */
const MAX_BATCH_RECORDS = 50_000;

interface StreamMeta {
  next: number;
  acked: number;
  count: number;
  bytes: number;
}

interface StreamState extends StreamMeta {
  /** Every seq ≤ floor is gone (acked or evicted), even if the delete is not committed yet. */
  floor: number;
  durable: number;
}

interface AppendJob {
  kind: 'append';
  stream: OutboxStream;
  at: number;
  values: Buffer[];
  resolve: (range: { first: number; last: number }) => void;
  reject: (err: unknown) => void;
}
interface AckJob {
  kind: 'ack';
  stream: OutboxStream;
  upTo: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}
interface EvictJob {
  kind: 'evict';
  stream: OutboxStream;
  needBytes: number;
  untilAt: number;
  upToSeq: number;
  resolve: (range: EvictedRange | null) => void;
  reject: (err: unknown) => void;
}
type Job = AppendJob | AckJob | EvictJob;

export interface OutboxOptions {
  records: Database<Buffer, [string, number]>;
  meta: Database<unknown, string>;
  agent: string;
  log: Logger;
  now: () => number;
}

const metaKey = (stream: OutboxStream): string => `outbox:${stream}`;

/** Records are stored as UTF-8 JSON `{"at":<ms>,"body":…}`: byte counts are exact and the hub gets JSON anyway. */
function encode(at: number, body: unknown): Buffer {
  const text = JSON.stringify({ at, body });
  if (text === undefined) throw new TypeError('outbox record body is not JSON-serialisable');
  return Buffer.from(text, 'utf8');
}

/** `at` without parsing the whole record: the encoding always starts with `{"at":<integer>`. */
function readAt(value: Buffer): number {
  let at = 0;
  for (let i = 6; i < value.length; i++) {
    const c = value[i]!;
    if (c < 48 || c > 57) break;
    at = at * 10 + (c - 48);
  }
  return at;
}

/**
 * The values of a record database as lmdb-js read them, without a copy:
 * a decoder without `needsStableBuffer` is handed lmdb-js's own reused read
 * buffer, and this one returns a view of it — valid only until the next read.
 * A range read of the plain binary handle allocates a Buffer per record,
 * which cost ~1.2 µs per record of the drain (more than the rest of reading
 * and splicing a batch). Values are never written through this handle; it
 * is opened like the outbox database apart from the encoding (a compressed
 * outbox would need its options here too).
 */
const IN_PLACE_VALUES = {
  encode: (value: Buffer): Buffer => value,
  decode: (bytes: Buffer, size?: number): Buffer => bytes.subarray(0, size ?? bytes.length),
};

/**
 * A second handle of the same named database. lmdb-js gives every database
 * the environment's `openDB` and sets its `name`; its typings list both for
 * root databases only.
 */
function openInPlaceValues(records: Database<Buffer, [string, number]>): Database<Buffer, [string, number]> {
  const { name } = records as unknown as { name: string | null };
  if (typeof name !== 'string') throw new Error('the outbox needs a named database');
  // `encoder` is an option of every database in lmdb-js (its typings: of root databases).
  const options = { name, encoder: IN_PLACE_VALUES };
  return (records as unknown as RootDatabase).openDB<Buffer, [string, number]>(options);
}

/**
 * Visits a pending record in place (see `visitPendingStored`): `stored` is
 * only valid during the call. Returns false to stop before this record.
 */
export type PendingVisitor = (seq: number, stored: Buffer, bytes: number) => boolean;

/**
 * The durable outbox: every record for the hub waits here until the hub acks it.
 *
 * All writes go through one pump that turns whatever was queued meanwhile
 * (appends of many callers, acks, evictions) into ONE `batch` — one LMDB write
 * transaction that also stores each touched stream's meta (next seq, acked,
 * count, bytes). Records and the next seq are therefore committed together: a
 * crash can neither leave a hole nor reuse a seq that is on disk. Only one batch
 * is committing at a time, so a failed commit rolls the in-memory numbering back
 * to exactly the state on disk and the jobs after it are numbered afresh; the
 * fsync of one batch still overlaps the commit of the next.
 * `append` resolves after `flushed` (see when-durable.ts), and `pending` only
 * returns records up to the highest durable seq: the hub can never hold a
 * record that a power loss could take back and renumber.
 */
export class Outbox {
  private readonly records: OutboxOptions['records'];
  /** The same records read in place (see IN_PLACE_VALUES); reads only. */
  private readonly recordsInPlace: OutboxOptions['records'];
  private readonly meta: OutboxOptions['meta'];
  private readonly log: Logger;
  private readonly agent: string;
  private readonly now: () => number;
  private readonly streams = new Map<OutboxStream, StreamState>();
  private queue: Job[] = [];
  private committing = false;
  private scheduled = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  /** Byte charges of the records `pendingStored` / `visitPendingStored` returned lately, per stream (see `rememberCharges`). */
  private readonly charges = new Map<OutboxStream, ReadCharges>();
  private readonly committedListeners: Array<() => void> = [];
  private failedCommits = 0;

  constructor(options: OutboxOptions) {
    this.records = options.records;
    this.recordsInPlace = openInPlaceValues(options.records);
    this.meta = options.meta;
    this.log = options.log;
    this.agent = options.agent;
    this.now = options.now;
    for (const stream of OUTBOX_STREAMS) {
      const stored = this.meta.get(metaKey(stream)) as StreamMeta | undefined;
      const meta = stored ?? { next: 1, acked: 0, count: 0, bytes: 0 };
      // Everything on disk at open was committed by an earlier process; the
      // store's open barrier (a flushed write) has made it durable.
      const first = this.firstPresentSeq(stream, meta.acked);
      this.streams.set(stream, { ...meta, floor: first === undefined ? meta.next - 1 : first - 1, durable: meta.next - 1 });
    }
  }

  /**
   * Appends records to a stream; resolves with their seq range once they are
   * on disk (flushed). Bodies must be JSON-serialisable (NaN becomes null).
   */
  append(stream: OutboxStream, bodies: readonly unknown[]): Promise<{ first: number; last: number }> {
    const state = this.stateOf(stream);
    if (this.closed) return Promise.reject(new Error('outbox is closed'));
    if (bodies.length === 0) return Promise.resolve({ first: state.next, last: state.next - 1 });
    const at = this.now();
    let values: Buffer[];
    try {
      values = bodies.map((body) => encode(at, body));
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => this.enqueue({ kind: 'append', stream, at, values, resolve, reject }));
  }

  /** Durable records after `afterSeq`, in seq order; evicted and acked ones are never returned. */
  pending(stream: OutboxStream, afterSeq: number, limit: number): OutboxRecord[] {
    return this.pendingStored(stream, afterSeq, limit).map(({ seq, stored, bytes }) => {
      const parsed = JSON.parse(stored.toString('utf8')) as { at: number; body: unknown };
      return { seq, at: parsed.at, body: parsed.body, bytes };
    });
  }

  /**
   * The same records as `pending`, as stored bytes: the hub link splices them
   * into its batch message, which costs a fraction of parsing each record and
   * printing it again.
   */
  pendingStored(stream: OutboxStream, afterSeq: number, limit: number): StoredOutboxRecord[] {
    const out: StoredOutboxRecord[] = [];
    // Each value copied out of lmdb-js's read buffer, as a plain binary read would.
    this.visitPendingStored(stream, afterSeq, limit, (seq, stored, bytes) => out.push({ seq, stored: Buffer.from(stored), bytes }) > 0);
    return out;
  }

  /**
   * The same records as `pendingStored`, each handed to `visit` in place
   * instead of copied into a Buffer of its own: `stored` is a view of
   * lmdb-js's read buffer, valid only during the call (copy what you keep).
   * Stops before the first record `visit` refuses (it counts as not read).
   * Returns how many records were visited and accepted.
   */
  visitPendingStored(stream: OutboxStream, afterSeq: number, limit: number, visit: PendingVisitor): number {
    const state = this.stateOf(stream);
    const start = Math.max(afterSeq, state.floor) + 1;
    if (start > state.durable || limit <= 0) return 0;
    let first = 0;
    let last = 0;
    const charges: number[] = [];
    for (const { key, value } of this.recordsInPlace.getRange({ start: [stream, start], end: [stream, state.durable + 1], limit })) {
      const bytes = value.length + RECORD_OVERHEAD_BYTES;
      if (!visit(key[1], value, bytes)) break;
      if (charges.length === 0) first = key[1];
      last = key[1];
      charges.push(bytes);
    }
    this.rememberCharges(stream, first, last, charges);
    return charges.length;
  }

  /**
   * The hub has every record up to `upToSeq`: delete them and remember the
   * position durably. Acking what was never durable is a protocol error.
   */
  ack(stream: OutboxStream, upToSeq: number): Promise<void> {
    const state = this.stateOf(stream);
    if (!Number.isInteger(upToSeq) || upToSeq > state.durable) {
      return Promise.reject(new RangeError(`cannot ack ${stream} up to ${upToSeq}: the last durable seq is ${state.durable}`));
    }
    if (upToSeq <= state.acked) return Promise.resolve();
    return new Promise((resolve, reject) => this.enqueue({ kind: 'ack', stream, upTo: upToSeq, resolve, reject }));
  }

  /**
   * Quota eviction: deletes the oldest pending records of `stream` appended at
   * or before `untilAt`, with seq ≤ `upToSeq`, until at least `needBytes` are
   * freed, and records the
   * exact seq range as a `store_eviction` event in the `events` stream in the
   * same transaction. Resolves with the range (null: nothing to evict) once
   * committed. `pending` stops returning the range as soon as it is decided.
   */
  evict(stream: OutboxStream, needBytes: number, limits: { untilAt?: number; upToSeq?: number } = {}): Promise<EvictedRange | null> {
    this.stateOf(stream);
    const untilAt = limits.untilAt ?? Number.POSITIVE_INFINITY;
    const upToSeq = limits.upToSeq ?? Number.POSITIVE_INFINITY;
    return new Promise((resolve, reject) => this.enqueue({ kind: 'evict', stream, needBytes, untilAt, upToSeq, resolve, reject }));
  }

  /** Highest durable seq of a stream. */
  lastDurable(stream: OutboxStream): number {
    return this.stateOf(stream).durable;
  }

  stats(): Record<OutboxStream, OutboxStreamStats> {
    const out = {} as Record<OutboxStream, OutboxStreamStats>;
    for (const stream of OUTBOX_STREAMS) {
      const s = this.stateOf(stream);
      const first = this.firstPresentSeq(stream, s.floor);
      const value = first === undefined ? undefined : this.records.getBinary([stream, first]);
      out[stream] = {
        next: s.next,
        acked: s.acked,
        durable: s.durable,
        pendingCount: s.count,
        pendingBytes: s.bytes,
        oldestPendingAt: value ? readAt(value) : null,
      };
    }
    return out;
  }

  /** Oldest pending record's append time, or null when the stream is empty. */
  oldestPendingAt(stream: OutboxStream): number | null {
    const s = this.stateOf(stream);
    const first = this.firstPresentSeq(stream, s.floor);
    const value = first === undefined ? undefined : this.records.getBinary([stream, first]);
    return value ? readAt(value) : null;
  }

  /** Bytes of all pending records (decided, not necessarily committed). */
  bytes(): number {
    let total = 0;
    for (const s of this.streams.values()) total += s.bytes;
    return total;
  }

  streamBytes(stream: OutboxStream): number {
    return this.stateOf(stream).bytes;
  }

  failures(): number {
    return this.failedCommits;
  }

  /** Called after every committed batch (the quota checks then). */
  onCommitted(listener: () => void): void {
    this.committedListeners.push(listener);
  }

  /** Waits for queued work to be durable; later appends are refused. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.committing || this.queue.length > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
    await this.records.flushed;
  }

  private stateOf(stream: OutboxStream): StreamState {
    const state = this.streams.get(stream);
    if (!state) throw new RangeError(`unknown outbox stream "${String(stream)}" (one of ${OUTBOX_STREAMS.join(', ')})`);
    return state;
  }

  private firstPresentSeq(stream: OutboxStream, after: number): number | undefined {
    for (const key of this.records.getKeys({ start: [stream, after + 1], end: [stream, Number.MAX_SAFE_INTEGER], limit: 1 })) {
      return key[1];
    }
    return undefined;
  }

  private enqueue(job: Job): void {
    this.queue.push(job);
    if (this.committing || this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not a microtask: appends from every callback of this loop
    // turn share the transaction.
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.committing) return;
    if (this.queue.length === 0) {
      for (const waiter of this.idleWaiters.splice(0)) waiter();
      return;
    }
    let take = 0;
    let records = 0;
    while (take < this.queue.length && (take === 0 || records < MAX_BATCH_RECORDS)) {
      const job = this.queue[take]!;
      records += job.kind === 'append' ? job.values.length : 1;
      take++;
    }
    const jobs = this.queue.splice(0, take);
    const snapshot = new Map([...this.streams].map(([k, v]) => [k, { ...v }]));
    const puts: Array<[[string, number], Buffer]> = [];
    const removes: SeqRange[] = [];
    const touched = new Set<OutboxStream>();
    const outcomes: Array<() => void> = [];
    const lastSeq = new Map<OutboxStream, number>();

    const appendValues = (stream: OutboxStream, values: Buffer[]): { first: number; last: number } => {
      const s = this.stateOf(stream);
      const first = s.next;
      for (const value of values) {
        puts.push([[stream, s.next], value]);
        s.next++;
        s.count++;
        s.bytes += value.length + RECORD_OVERHEAD_BYTES;
      }
      touched.add(stream);
      lastSeq.set(stream, s.next - 1);
      return { first, last: s.next - 1 };
    };

    for (const job of jobs) {
      if (job.kind === 'append') {
        const range = appendValues(job.stream, job.values);
        outcomes.push(() => job.resolve(range));
      } else if (job.kind === 'ack') {
        const s = this.stateOf(job.stream);
        if (job.upTo > s.acked) {
          if (!this.removeCharged(job.stream, s.floor, job.upTo, removes)) {
            this.removeRange(job.stream, s.floor, job.upTo, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, removes);
          }
          s.floor = Math.max(s.floor, job.upTo);
          s.acked = job.upTo;
          touched.add(job.stream);
        }
        outcomes.push(() => job.resolve());
      } else {
        const s = this.stateOf(job.stream);
        const range = this.removeRange(job.stream, s.floor, Math.min(s.durable, job.upToSeq), job.needBytes, job.untilAt, removes);
        if (range) {
          s.floor = range.toSeq;
          touched.add(job.stream);
          const event: AgentEvent = {
            kind: 'store_eviction',
            at: this.now(),
            agent: this.agent,
            message: `disk quota reached: ${range.count} ${job.stream} records (seq ${range.fromSeq}–${range.toSeq}) evicted before the hub had them`,
            details: { ...range },
          };
          appendValues('events', [encode(this.now(), event)]);
        }
        outcomes.push(() => job.resolve(range));
      }
    }

    this.committing = true;
    let commit: Promise<boolean>;
    try {
      commit = this.records.batch(() => {
        for (const [key, value] of puts) void this.records.put(key, value);
        for (const { stream, from, to } of removes) for (let seq = from; seq <= to; seq++) void this.records.remove([stream, seq]);
        for (const stream of touched) {
          const s = this.stateOf(stream);
          const meta: StreamMeta = { next: s.next, acked: s.acked, count: s.count, bytes: s.bytes };
          void this.meta.put(metaKey(stream), meta);
        }
      });
    } catch (err) {
      commit = Promise.reject(err);
    }
    commit.then(
      () => {
        this.committing = false;
        for (const listener of this.committedListeners) listener();
        this.pump();
        void whenDurable(this.records, Promise.resolve()).then(() => {
          for (const [stream, last] of lastSeq) {
            const s = this.stateOf(stream);
            s.durable = Math.max(s.durable, last);
          }
          for (const outcome of outcomes) outcome();
        });
      },
      (err: unknown) => {
        // Nothing of this batch is on disk: go back to exactly what is, and let
        // the jobs queued meanwhile be numbered from there.
        this.failedCommits++;
        for (const [stream, state] of snapshot) this.streams.set(stream, state);
        this.log.error({ err, jobs: jobs.length }, 'outbox write failed; the callers were told and nothing was numbered');
        for (const job of jobs) job.reject(err);
        this.committing = false;
        this.pump();
      },
    );
  }

  /**
   * Acks delete what the hub has — almost always records `pendingStored` (or
   * `visitPendingStored`) just read for it. Their charges are kept (a number
   * per record, only for the latest contiguous reads) so that the delete
   * needs no second read of values it only wants the sizes of.
   */
  private rememberCharges(stream: OutboxStream, first: number, last: number, read: readonly number[]): void {
    if (read.length === 0) return;
    let kept = this.charges.get(stream);
    if (kept === undefined || first < kept.first || first > kept.first + kept.bytes.length || last !== first + read.length - 1) {
      kept = { first, bytes: [] };
      this.charges.set(stream, kept);
    }
    // A read may start inside what is kept (a batch cut short by its byte budget, a resend): from there on it replaces it.
    kept.bytes.length = first - kept.first;
    for (const bytes of read) kept.bytes.push(bytes);
    if (kept.bytes.length > MAX_KEPT_CHARGES) this.forgetCharges(kept, kept.first + kept.bytes.length - MAX_KEPT_CHARGES - 1);
  }

  /**
   * Queues the deletion of (after, upTo] from remembered charges, updating
   * count and bytes; false (nothing done) when they are not all remembered.
   * Every seq in (floor, durable] is present: appends are gap-free and only
   * acks and evictions delete, always from the floor up.
   */
  private removeCharged(stream: OutboxStream, after: number, upTo: number, removes: SeqRange[]): boolean {
    // An eviction may have removed past upTo already: nothing left to delete (counting upTo - after would add).
    if (upTo <= after) return true;
    const kept = this.charges.get(stream);
    if (kept === undefined || after + 1 < kept.first || upTo > kept.first + kept.bytes.length - 1) return false;
    let bytes = 0;
    for (let seq = after + 1; seq <= upTo; seq++) bytes += kept.bytes[seq - kept.first]!;
    addToRanges(removes, stream, after + 1, upTo);
    this.forgetCharges(kept, upTo);
    const s = this.stateOf(stream);
    s.count -= upTo - after;
    s.bytes -= bytes;
    return true;
  }

  private forgetCharges(kept: ReadCharges, upTo: number): void {
    if (upTo < kept.first) return;
    kept.bytes.splice(0, upTo - kept.first + 1);
    kept.first = upTo + 1;
  }

  /**
   * Collects the present records in (after, upTo] for deletion, oldest first,
   * stopping once `needBytes` are covered or a record is newer than `untilAt`.
   * Updates count and bytes; returns the range removed, or null.
   */
  private removeRange(stream: OutboxStream, after: number, upTo: number, needBytes: number, untilAt: number, removes: SeqRange[]): EvictedRange | null {
    if (upTo <= after) return null;
    const s = this.stateOf(stream);
    let fromSeq = 0;
    let toSeq = 0;
    let count = 0;
    let bytes = 0;
    for (const { key, value } of this.records.getRange({ start: [stream, after + 1], end: [stream, upTo + 1] })) {
      if (bytes >= needBytes || readAt(value) > untilAt) break;
      if (count === 0) fromSeq = key[1];
      toSeq = key[1];
      count++;
      bytes += value.length + RECORD_OVERHEAD_BYTES;
      addToRanges(removes, stream, key[1], key[1]);
    }
    s.count -= count;
    s.bytes -= bytes;
    return count === 0 ? null : { stream, fromSeq, toSeq, count, bytes };
  }
}
