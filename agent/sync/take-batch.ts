import type { SyncStream } from '../../shared/sync-protocol.js';
import type { Outbox, StoredOutboxRecord } from '../store/outbox.js';

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
 * records are JSON.stringify output, so valid UTF-8) for a text frame: the
 * socket sends them as they are (decoding 600 KB here and encoding it again
 * in ws cost ~0.3 µs per record). The drain builds the same bytes straight
 * from the outbox with `takeBatchMessage`.
 */
export function batchMessage(stream: SyncStream, epoch: string, records: readonly StoredOutboxRecord[]): Buffer {
  const writer = new MessageWriter();
  records.forEach(({ seq, stored }, i) => writer.record(seq, stored, i > 0));
  return writer.finish(stream, epoch, records[0]!.seq, records[records.length - 1]!.seq);
}

/** A batch message read from the outbox and spliced in one pass (see takeBatchMessage). */
export interface BatchMessage {
  /** The message's JSON as UTF-8 bytes, for a text frame. */
  message: Buffer;
  first: number;
  last: number;
  count: number;
  /** As in TakenBatch; `firstBytes` is that record's charge, for the log. */
  oversized: boolean;
  firstBytes: number;
}

/**
 * What `takeBatch` over `pendingStored` followed by `batchMessage` makes — the
 * same records, the same bytes — in one pass over the outbox that copies each
 * stored record straight into the message: no Buffer, object or array per
 * record (those cost more than everything else the agent does per record).
 * Null when nothing is pending after `afterSeq`.
 */
export function takeBatchMessage(
  outbox: Pick<Outbox, 'visitPendingStored'>,
  stream: SyncStream,
  epoch: string,
  afterSeq: number,
  limit: number,
  maxBytes: number,
): BatchMessage | null {
  const writer = new MessageWriter();
  let count = 0;
  let first = 0;
  let last = 0;
  let bytes = 0;
  let firstBytes = 0;
  outbox.visitPendingStored(stream, afterSeq, limit, (seq, stored, charge) => {
    if (count > 0 && bytes + charge > maxBytes) return false;
    writer.record(seq, stored, count > 0);
    if (count === 0) {
      first = seq;
      firstBytes = charge;
    }
    bytes += charge;
    last = seq;
    count++;
    return true;
  });
  if (count === 0) return null;
  return { message: writer.finish(stream, epoch, first, last), first, last, count, oversized: count === 1 && bytes > maxBytes, firstBytes };
}

const SEQ_HEAD = Buffer.from('{"seq":');

/** The scratch space is kept for the next batch up to this size (a batch is at most ~4 MiB; an oversized record may be more). */
const MAX_KEPT_SCRATCH_BYTES = 8 * 1024 * 1024;

/**
 * Builds a batch message: records are appended to scratch space that grows
 * by doubling and is reused by the next batch; `finish` copies the head and
 * the records into a Buffer of the message's own (the socket may hold it
 * after the send). The head names first and last, known only at the end.
 */
class MessageWriter {
  private static scratch = Buffer.allocUnsafeSlow(1024 * 1024);
  private buf = MessageWriter.scratch;
  private at = 0;

  /** One stored record as `{"seq":S,"at":…}`, after a comma unless it is the first. */
  record(seq: number, stored: Buffer, comma: boolean): void {
    if (!startsWithAt(stored)) throw new Error(`outbox record #${seq} is not stored as {"at":…}: cannot splice it into a batch`);
    if (comma) {
      this.ensure(1);
      this.buf[this.at++] = COMMA;
    }
    this.recordHead(seq);
    this.spliceRecord(stored);
  }

  /** `{"seq":<seq>` — digit by digit, without a string per record, for a safe integer ≥ 0 (as seqs are). */
  private recordHead(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq < 0) return this.latin1(`{"seq":${seq}`);
    let digits = 1;
    for (let rest = seq; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    this.ensure(SEQ_HEAD.length + digits);
    const buf = this.buf;
    SEQ_HEAD.copy(buf, this.at);
    let at = this.at + SEQ_HEAD.length + digits;
    for (let rest = seq, i = at - 1; i >= at - digits; i--, rest = Math.floor(rest / 10)) buf[i] = 0x30 + (rest % 10);
    this.at = at;
  }

  /**
   * A stored `{"at":…}` after the record head: copied whole, its `{` then
   * overwritten by the comma — the same bytes as copying all but the `{`
   * after a comma, without a view of the source per record.
   */
  private spliceRecord(stored: Buffer): void {
    this.ensure(stored.length);
    this.buf.set(stored, this.at);
    this.buf[this.at] = COMMA;
    this.at += stored.length;
  }

  /** `text` holds only ASCII. */
  private latin1(text: string): void {
    this.ensure(text.length);
    this.at += this.buf.write(text, this.at, 'latin1');
  }

  finish(stream: SyncStream, epoch: string, first: number, last: number): Buffer {
    this.latin1(']}');
    const head = Buffer.from(`${JSON.stringify({ type: 'batch', stream, epoch, first, last }).slice(0, -1)},"records":[`, 'utf8');
    const out = Buffer.allocUnsafeSlow(head.length + this.at);
    head.copy(out, 0);
    this.buf.copy(out, head.length, 0, this.at);
    return out;
  }

  private ensure(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
    if (grown.length <= MAX_KEPT_SCRATCH_BYTES) MessageWriter.scratch = grown;
  }
}
