import type { AgentEvent } from '../../shared/episode.js';
import type { Logger } from '../../shared/logger.js';
import type { History } from './history.js';
import type { Outbox, OutboxStream } from './outbox.js';

export type EvictionKind = 'history' | 'scores' | 'events' | 'episodes';

export interface EvictionCounters {
  /** History: samples; outbox streams: records. */
  evicted: Record<EvictionKind, number>;
  evictedBytes: Record<EvictionKind, number>;
}

export interface StoreEvent {
  kind: 'store_eviction' | 'store_quarantined';
  message: string;
  details: Record<string, unknown>;
}

export interface QuotaOptions {
  quotaBytes: number;
  outbox: Outbox;
  history: History;
  agent: string;
  log: Logger;
  now: () => number;
  onEvent?: (event: StoreEvent) => void;
  /** Eviction frees down to this share of the quota, so it runs in chunks, not on every append (default 0.9). */
  lowWater?: number;
}

/** History is evicted in slices of this much event time across all tags. */
const HISTORY_SLICE_MS = 10 * 60_000;
const LATER_STREAMS: readonly OutboxStream[] = ['events', 'episodes'];
/**
 * Every eviction writes a store_eviction record (a few hundred bytes) to
 * `events`; each eviction frees this much more than needed so that record does
 * not itself push the store over and start another eviction.
 */
const EVICTION_RECORD_ALLOWANCE = 1024;

const zero = (): Record<EvictionKind, number> => ({ history: 0, scores: 0, events: 0, episodes: 0 });

/**
 * Keeps outbox + history within `quotaBytes` (logical bytes: encoded values
 * plus a fixed per-entry key/node overhead, tracked exactly as records come and
 * go — see README for how that relates to the size of data.mdb).
 *
 * Order when over quota: history blocks and `scores` records, whichever is
 * older, first; then `events`; `episodes` last. Each eviction is counted,
 * logged, reported through onEvent and written to the `events` stream (outbox
 * evictions in the same transaction as the deletes, with the exact seq range).
 */
export class Quota {
  private readonly options: QuotaOptions;
  private readonly lowWater: number;
  private running: Promise<void> | null = null;
  private again = false;
  private readonly counts: EvictionCounters = { evicted: zero(), evictedBytes: zero() };
  private failures = 0;

  constructor(options: QuotaOptions) {
    this.options = options;
    this.lowWater = options.lowWater ?? 0.9;
  }

  usedBytes(): number {
    return this.options.outbox.bytes() + this.options.history.bytes();
  }

  /** Starts an eviction round when over quota; cheap when not. */
  check(): void {
    if (this.usedBytes() <= this.options.quotaBytes) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.enforce()
      .catch((err: unknown) => {
        this.failures++;
        this.options.log.error({ err }, 'store quota eviction failed; retried on the next write');
      })
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.check();
        }
      });
  }

  /** Resolves when the current eviction round (if any) is over. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  counters(): EvictionCounters & { failures: number } {
    return { evicted: { ...this.counts.evicted }, evictedBytes: { ...this.counts.evictedBytes }, failures: this.failures };
  }

  private need(): number {
    return this.usedBytes() - this.options.quotaBytes * this.lowWater;
  }

  private needWithRecord(): number {
    return this.need() + EVICTION_RECORD_ALLOWANCE;
  }

  private async enforce(): Promise<void> {
    const { outbox, history } = this.options;
    // Phase 1: history and scores, oldest first (sample event time vs. append time).
    for (let guard = 0; guard < 10_000 && this.need() > 0; guard++) {
      const h = history.oldestTs();
      const s = outbox.oldestPendingAt('scores');
      if (h === null && s === null) break;
      if (s !== null && (h === null || s <= h)) {
        const range = await outbox.evict('scores', this.needWithRecord(), { untilAt: h ?? Number.POSITIVE_INFINITY });
        if (range) {
          this.reportOutbox(range);
          continue;
        }
        if (h === null) break; // scores not durable yet: nothing more to take now
      }
      if (h === null) break;
      const before = Math.max(h + 1, Math.min(h + HISTORY_SLICE_MS, s === null ? Number.POSITIVE_INFINITY : s + 1));
      const removed = await history.evictBefore(before);
      if (removed.blocks === 0) break;
      await this.reportHistory(h, before, removed);
    }
    // Phases 2 and 3: events, then episodes — what a person needs most goes last.
    // Only what was durable when the phase began: the eviction records this
    // round writes to `events` must not feed the round itself.
    for (const stream of LATER_STREAMS) {
      const upToSeq = outbox.lastDurable(stream);
      while (this.need() > 0) {
        const range = await outbox.evict(stream, this.needWithRecord(), { upToSeq });
        if (!range) break;
        this.reportOutbox(range);
      }
    }
  }

  private reportOutbox(range: { stream: OutboxStream; fromSeq: number; toSeq: number; count: number; bytes: number }): void {
    this.counts.evicted[range.stream] += range.count;
    this.counts.evictedBytes[range.stream] += range.bytes;
    const message = `disk quota reached: ${range.count} ${range.stream} records (seq ${range.fromSeq}–${range.toSeq}) evicted before the hub had them`;
    this.options.log.warn({ ...range, quotaBytes: this.options.quotaBytes }, message);
    this.options.onEvent?.({ kind: 'store_eviction', message, details: { ...range } });
  }

  private async reportHistory(fromTs: number, beforeTs: number, removed: { samples: number; bytes: number; blocks: number }): Promise<void> {
    this.counts.evicted.history += removed.samples;
    this.counts.evictedBytes.history += removed.bytes;
    const message = `disk quota reached: ${removed.samples} history samples before ${new Date(beforeTs).toISOString()} evicted`;
    const details = { stream: 'history', fromTs, beforeTs, ...removed };
    this.options.log.warn({ ...details, quotaBytes: this.options.quotaBytes }, message);
    this.options.onEvent?.({ kind: 'store_eviction', message, details });
    const event: AgentEvent = { kind: 'store_eviction', at: this.options.now(), agent: this.options.agent, message, details };
    await this.options.outbox.append('events', [event]).catch((err: unknown) => {
      this.options.log.error({ err }, 'could not record a history eviction in the outbox');
    });
  }
}
