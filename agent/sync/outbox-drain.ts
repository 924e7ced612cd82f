import type { Logger } from '../../shared/logger.js';
import { MAX_BATCH_BYTES, SYNC_STREAMS, type Ack, type SyncStream, type Welcome } from '../../shared/sync-protocol.js';
import type { Outbox } from '../store/outbox.js';
import type { SyncCounters } from './link-state.js';
import { takeBatchMessage } from './take-batch.js';

/** Where batches go: the open hub connection. */
export interface BatchSink {
  /** `text`: a message's JSON as UTF-8 bytes, sent as a text frame. */
  send(text: Buffer, onWritten: () => void): boolean;
  bufferedAmount(): number;
}

export interface OutboxDrainOptions {
  outbox: Pick<Outbox, 'visitPendingStored' | 'ack' | 'lastDurable' | 'stats'>;
  epoch: string;
  /** Most records per batch (hub.batchRecords). */
  batchRecords: number;
  /** Batches per stream sent and not yet acknowledged (hub.inFlightBatches). */
  inFlightBatches: number;
  /** No batch is sent while the websocket holds more than this, in bytes. */
  maxBufferedBytes: number;
  counters: SyncCounters;
  log: Logger;
}

/** Envelope allowance: `{"type":"batch","stream":…,"epoch":…,"first":…,"last":…,"records":[…]}` and commas. */
const BATCH_BYTE_BUDGET = MAX_BATCH_BYTES - 1024;

/**
 * Episodes and events are served before scores in every round, one batch per
 * stream per round: a scores backlog of a day never holds back a live episode
 * by more than one scores batch (and the few in flight ahead of it).
 */
const ROUND_ORDER: readonly SyncStream[] = ['episodes', 'events', 'scores'];

interface StreamCursor {
  /** Highest seq sent on this connection (or that the hub already had). */
  sentUpTo: number;
  /** Last seqs of the batches sent and not yet acknowledged, oldest first. */
  inFlight: number[];
  /** Highest seq the hub acknowledged; for counting. */
  ackedUpTo: number;
}

/**
 * Sends what waits in the outbox to the hub and deletes what the hub
 * acknowledges — at-least-once: a record leaves the outbox only after the hub
 * said it is stored.
 *
 * - Per stream strictly in seq order, as `pending` returns them, in batches of
 *   at most `batchRecords` records and ~4 MiB, at most `inFlightBatches`
 *   unacknowledged.
 * - Backpressure: nothing is sent while the websocket's `bufferedAmount` is
 *   above `maxBufferedBytes`; each written batch (send callback) looks again.
 * - After a reconnect the welcome says what the hub stored per stream: the
 *   outbox is acked up to there and sending resumes right after it, so
 *   batches whose acks were lost are sent again (the hub is idempotent by
 *   agent, epoch, stream and seq).
 */
export class OutboxDrain {
  private sink: BatchSink | null = null;
  private readonly cursors = new Map<SyncStream, StreamCursor>();
  private readonly oversizedLogged = new Set<string>();

  constructor(private readonly o: OutboxDrainOptions) {
    for (const stream of SYNC_STREAMS) this.cursors.set(stream, { sentUpTo: 0, inFlight: [], ackedUpTo: 0 });
  }

  /** A welcomed connection: ack what the hub already stored, send from there. */
  attach(sink: BatchSink, stored: Welcome['stored']): void {
    const stats = this.o.outbox.stats();
    for (const stream of SYNC_STREAMS) {
      const durable = this.o.outbox.lastDurable(stream);
      const hubHas = stored[stream];
      if (hubHas > durable) {
        // The hub holds seqs this store never made durable under this epoch: a
        // bug on one side. Never ack beyond what is on disk here.
        this.o.log.error({ code: 'VIGIL_SYNC_PROTOCOL', stream, stored: hubHas, durable }, `the hub says it stored ${stream} up to ${hubHas}, but this store's last durable seq is ${durable}`);
      }
      const upTo = Math.min(hubHas, durable);
      if (upTo > stats[stream].acked) this.ackLocally(stream, upTo);
      else if (upTo < stats[stream].acked) {
        // The hub acknowledged these before and lost them (say it was restored from a backup); they are gone here too.
        this.o.log.warn({ stream, stored: hubHas, acked: stats[stream].acked }, `the hub has ${stream} only up to ${hubHas}; ${stream} ${hubHas + 1}–${stats[stream].acked} were acknowledged earlier and can no longer be sent`);
      }
      const cursor = this.cursor(stream);
      cursor.sentUpTo = upTo;
      cursor.inFlight = [];
      cursor.ackedUpTo = Math.max(cursor.ackedUpTo, upTo);
    }
    this.sink = sink;
    this.pump();
  }

  /** The connection is gone: what was in flight is sent again after the next welcome. */
  detach(): void {
    this.sink = null;
    for (const cursor of this.cursors.values()) cursor.inFlight = [];
  }

  /**
   * An ack from the hub. Returns a protocol error (the hub acknowledged seqs
   * this store never made durable), else null. Acks of another epoch (meant
   * for the store this one replaced) and repeated acks change nothing.
   */
  onAck(ack: Ack): string | null {
    if (ack.epoch !== this.o.epoch) {
      this.o.log.debug({ stream: ack.stream, epoch: ack.epoch, upTo: ack.upTo }, 'ack for another store epoch ignored');
      return null;
    }
    const durable = this.o.outbox.lastDurable(ack.stream);
    if (ack.upTo > durable) return `ack of ${ack.stream} up to ${ack.upTo}, but the last durable seq is ${durable}`;
    const cursor = this.cursor(ack.stream);
    while (cursor.inFlight.length > 0 && cursor.inFlight[0]! <= ack.upTo) cursor.inFlight.shift();
    cursor.sentUpTo = Math.max(cursor.sentUpTo, ack.upTo);
    if (ack.upTo > cursor.ackedUpTo) {
      this.o.counters.acked[ack.stream] += ack.upTo - cursor.ackedUpTo;
      cursor.ackedUpTo = ack.upTo;
      this.ackLocally(ack.stream, ack.upTo);
    }
    this.pump();
    return null;
  }

  /** Sends whatever may be sent now; called on welcome, ack, written batch and new durable records. */
  pump(): void {
    const sink = this.sink;
    if (!sink) return;
    for (;;) {
      let sent = false;
      for (const stream of ROUND_ORDER) {
        if (sink.bufferedAmount() > this.o.maxBufferedBytes) return;
        if (this.sendNext(sink, stream)) sent = true;
        if (this.sink !== sink) return;
      }
      if (!sent) return;
    }
  }

  private sendNext(sink: BatchSink, stream: SyncStream): boolean {
    const cursor = this.cursor(stream);
    if (cursor.inFlight.length >= this.o.inFlightBatches) return false;
    // Spliced from the stored bytes as they are read: the records are never parsed here.
    const batch = takeBatchMessage(this.o.outbox, stream, this.o.epoch, cursor.sentUpTo, this.o.batchRecords, BATCH_BYTE_BUDGET);
    if (batch === null) return false;
    if (batch.oversized) this.logOversized(stream, batch.first, batch.firstBytes);
    if (!sink.send(batch.message, () => this.pump())) {
      this.detach();
      return false;
    }
    cursor.sentUpTo = batch.last;
    cursor.inFlight.push(batch.last);
    this.o.counters.recordsSent[stream] += batch.count;
    return true;
  }

  private ackLocally(stream: SyncStream, upTo: number): void {
    this.o.outbox.ack(stream, upTo).catch((err: unknown) => {
      // The records stay and are sent again; the hub is idempotent.
      this.o.log.error({ stream, upTo, err: err instanceof Error ? err.message : String(err) }, 'could not delete acknowledged records from the outbox');
    });
  }

  private logOversized(stream: SyncStream, seq: number, bytes: number): void {
    const key = `${stream}:${seq}`;
    if (this.oversizedLogged.has(key)) return;
    if (this.oversizedLogged.size >= 1000) this.oversizedLogged.clear();
    this.oversizedLogged.add(key);
    this.o.log.error(
      { code: 'VIGIL_SYNC_PROTOCOL', stream, seq, bytes, limit: MAX_BATCH_BYTES },
      `outbox record ${stream}#${seq} is ${bytes} bytes, more than a batch may hold (${MAX_BATCH_BYTES}); it is sent alone and the hub decides (it is never skipped: that would leave a gap nothing explains)`,
    );
  }

  private cursor(stream: SyncStream): StreamCursor {
    return this.cursors.get(stream)!;
  }
}
