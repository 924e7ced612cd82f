import type { Database } from 'lmdb';
import type { Logger } from '../../shared/logger.js';
import type { Quality, Sample } from '../../shared/sample.js';

/** A block never spans more event time than this, so a read only looks this far back before `from`. */
export const BLOCK_MAX_SPAN_MS = 60_000;
/** Samples per block at most; a full block is sealed and written at the next flush. */
export const BLOCK_MAX_SAMPLES = 1024;
/** Charged per block beyond its value: the [tag, minTs, id] key and LMDB's node header. */
const BLOCK_OVERHEAD_BYTES = 48;
const HEADER_BYTES = 24;
const TS_UINT32 = 1;
const TS_FLOAT64 = 2;
const QUALITY_CODE: Record<Quality, number> = { good: 0, uncertain: 1, bad: 2 };
const QUALITY_OF: readonly Quality[] = ['good', 'uncertain', 'bad'];

export interface HistoryRead {
  ts: number[];
  values: Array<number | null>;
  quality: Quality[];
}

interface OpenBlock {
  ts: number[];
  values: number[];
  quality: number[];
  min: number;
  max: number;
}

interface SealedBlock {
  tag: string;
  id: number;
  min: number;
  value: Buffer;
}

interface HistoryMeta {
  bytes: number;
  blocks: number;
  nextBlockId: number;
}

type BlockKey = [string, number, number];

export interface HistoryOptions {
  blocks: Database<Buffer, BlockKey>;
  meta: Database<unknown, string>;
  historyHours: number;
  log: Logger;
  now: () => number;
  /** How often buffered samples are written (default 5 s): what a crash can lose. */
  flushIntervalMs?: number;
  /** How often blocks older than historyHours are deleted (default 60 s). */
  retentionIntervalMs?: number;
  /** Buffered samples beyond this are dropped and counted while writes lag (default 1,000,000). */
  maxBufferedSamples?: number;
}

export interface HistoryCounters {
  appended: number;
  written: number;
  /** Dropped because the buffer was full while writes lagged. */
  droppedOverflow: number;
  /** Deleted by retention (older than historyHours): expected, not a loss. */
  expired: number;
  /** Deleted by the disk quota. */
  evicted: number;
  writeFailures: number;
}

/**
 * Block layout (little-endian): u8 version=1, u8 ts encoding, u16 0, u32 n,
 * f64 minTs, f64 maxTs, then n timestamps (u32 ms offsets from minTs when all
 * are whole milliseconds, else f64 absolute), n f64 values (NaN = no value),
 * n u8 qualities. 13 bytes per sample for whole-ms timestamps.
 */
function encodeBlock(block: OpenBlock): Buffer {
  const n = block.ts.length;
  const wholeMs = block.ts.every((t) => Number.isInteger(t - block.min)) && block.max - block.min < 2 ** 32;
  const tsBytes = wholeMs ? 4 : 8;
  const buf = Buffer.alloc(HEADER_BYTES + n * (tsBytes + 9));
  buf.writeUInt8(1, 0);
  buf.writeUInt8(wholeMs ? TS_UINT32 : TS_FLOAT64, 1);
  buf.writeUInt32LE(n, 4);
  buf.writeDoubleLE(block.min, 8);
  buf.writeDoubleLE(block.max, 16);
  let off = HEADER_BYTES;
  for (let i = 0; i < n; i++, off += tsBytes) {
    if (wholeMs) buf.writeUInt32LE(block.ts[i]! - block.min, off);
    else buf.writeDoubleLE(block.ts[i]!, off);
  }
  for (let i = 0; i < n; i++, off += 8) buf.writeDoubleLE(block.values[i]!, off);
  for (let i = 0; i < n; i++, off++) buf.writeUInt8(block.quality[i]!, off);
  return buf;
}

function blockSamples(buf: Buffer): number {
  return buf.readUInt32LE(4);
}

function decodeBlock(buf: Buffer, into: { ts: number[]; values: number[]; quality: number[] }): void {
  const n = buf.readUInt32LE(4);
  const wholeMs = buf.readUInt8(1) === TS_UINT32;
  const min = buf.readDoubleLE(8);
  const tsBytes = wholeMs ? 4 : 8;
  let off = HEADER_BYTES;
  for (let i = 0; i < n; i++, off += tsBytes) into.ts.push(wholeMs ? min + buf.readUInt32LE(off) : buf.readDoubleLE(off));
  for (let i = 0; i < n; i++, off += 8) into.values.push(buf.readDoubleLE(off));
  for (let i = 0; i < n; i++, off++) into.quality.push(buf.readUInt8(off));
}

/**
 * The raw history ring: every sample of every tag for `historyHours`, for
 * episode snapshots and later training.
 *
 * BEST-EFFORT durable, unlike the outbox: samples are buffered per tag and
 * written in blocks (one LMDB entry per ≤ 1,024 samples or ≤ 60 s of one tag)
 * every `flushIntervalMs`, without waiting for the fsync — at 10k samples/s a
 * put per sample would cost more than the whole agent. A crash loses at most
 * the buffered interval; what was written is never corrupted.
 * Keys are [tag, minTs, blockId] (ordered): a read of one tag is one range scan
 * from `from - BLOCK_MAX_SPAN_MS`. Blocks may overlap in time (late samples);
 * reads merge and sort.
 */
export class History {
  private readonly blocks: HistoryOptions['blocks'];
  private readonly meta: HistoryOptions['meta'];
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly retentionMs: number;
  private readonly maxBuffered: number;
  private readonly open = new Map<string, OpenBlock>();
  private sealed: SealedBlock[] = [];
  /** Blocks handed to LMDB but not committed yet: reads still see them here. */
  private inFlight: SealedBlock[] = [];
  private buffered = 0;
  private writing: Promise<void> | null = null;
  private state: HistoryMeta;
  private readonly tags = new Set<string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly counters: HistoryCounters = { appended: 0, written: 0, droppedOverflow: 0, expired: 0, evicted: 0, writeFailures: 0 };
  private readonly flushedListeners: Array<() => void> = [];
  private deleting: Promise<unknown> = Promise.resolve();
  /** Newest sample time appended since start (retention's clock-step guard); -Infinity before the first. */
  private newestSampleTs = Number.NEGATIVE_INFINITY;

  constructor(options: HistoryOptions) {
    this.blocks = options.blocks;
    this.meta = options.meta;
    this.log = options.log;
    this.now = options.now;
    this.retentionMs = options.historyHours * 3_600_000;
    this.maxBuffered = options.maxBufferedSamples ?? 1_000_000;
    this.state = (this.meta.get('history') as HistoryMeta | undefined) ?? { bytes: 0, blocks: 0, nextBlockId: 1 };
    for (const tag of this.storedTags()) this.tags.add(tag);
    const flushEvery = options.flushIntervalMs ?? 5000;
    const retainEvery = options.retentionIntervalMs ?? 60_000;
    this.timers.push(setInterval(() => void this.flush(), flushEvery).unref());
    this.timers.push(
      setInterval(() => {
        this.expire().catch((err: unknown) => this.log.error({ err }, 'history retention failed; retried at the next interval'));
      }, retainEvery).unref(),
    );
  }

  /** Buffers samples; they are written within flushIntervalMs. Never throws on the ingest path. */
  append(samples: readonly Sample[]): void {
    for (const s of samples) {
      if (this.buffered >= this.maxBuffered) {
        this.counters.droppedOverflow++;
        continue;
      }
      let block = this.open.get(s.tag);
      if (block && (block.ts.length >= BLOCK_MAX_SAMPLES || s.ts > block.min + BLOCK_MAX_SPAN_MS || s.ts < block.max - BLOCK_MAX_SPAN_MS)) {
        this.seal(s.tag, block);
        block = undefined;
      }
      if (!block) {
        block = { ts: [], values: [], quality: [], min: s.ts, max: s.ts };
        this.open.set(s.tag, block);
      }
      block.ts.push(s.ts);
      block.values.push(s.value);
      block.quality.push(QUALITY_CODE[s.quality] ?? 2);
      if (s.ts < block.min) block.min = s.ts;
      if (s.ts > block.max) block.max = s.ts;
      // Gap markers (bad, NaN) are stamped with the agent's own clock: they must not move it.
      if (s.quality !== 'bad' && s.ts > this.newestSampleTs) this.newestSampleTs = s.ts;
      this.buffered++;
      this.counters.appended++;
    }
  }

  /**
   * Samples of `tag` with from ≤ ts ≤ to, in time order, including those still
   * buffered. With maxPoints, longer results are reduced to at most maxPoints
   * (per bucket the lowest and highest value, so spikes survive).
   */
  read(tag: string, from: number, to: number, maxPoints?: number): HistoryRead {
    const raw = { ts: [] as number[], values: [] as number[], quality: [] as number[] };
    const seen = new Set<number>();
    for (const { key, value } of this.blocks.getRange({ start: [tag, from - BLOCK_MAX_SPAN_MS, 0], end: [tag, to, Number.MAX_SAFE_INTEGER] })) {
      seen.add(key[2]);
      if (value.readDoubleLE(16) < from) continue;
      decodeBlock(value, raw);
    }
    for (const block of [...this.inFlight, ...this.sealed]) {
      if (block.tag === tag && !seen.has(block.id)) decodeBlock(block.value, raw);
    }
    const open = this.open.get(tag);
    if (open) {
      raw.ts.push(...open.ts);
      raw.values.push(...open.values);
      raw.quality.push(...open.quality);
    }
    const order: number[] = [];
    for (let i = 0; i < raw.ts.length; i++) if (raw.ts[i]! >= from && raw.ts[i]! <= to) order.push(i);
    order.sort((a, b) => raw.ts[a]! - raw.ts[b]! || a - b);
    const picked = maxPoints !== undefined && order.length > maxPoints ? downsample(order, raw.values, maxPoints) : order;
    return {
      ts: picked.map((i) => raw.ts[i]!),
      values: picked.map((i) => (Number.isFinite(raw.values[i]!) ? raw.values[i]! : null)),
      quality: picked.map((i) => QUALITY_OF[raw.quality[i]!] ?? 'bad'),
    };
  }

  /** Writes everything buffered as blocks (one transaction, not waiting for the fsync). */
  flush(): Promise<void> {
    if (this.writing) return this.writing.then(() => this.flush());
    for (const [tag, block] of this.open) this.seal(tag, block);
    if (this.sealed.length === 0) return Promise.resolve();
    const batch = this.sealed;
    this.sealed = [];
    this.inFlight = batch;
    const before = { ...this.state };
    let samples = 0;
    for (const block of batch) {
      this.state.bytes += block.value.length + BLOCK_OVERHEAD_BYTES;
      this.state.blocks++;
      samples += blockSamples(block.value);
      this.tags.add(block.tag);
    }
    const meta = { ...this.state };
    this.writing = this.blocks
      .batch(() => {
        for (const block of batch) void this.blocks.put([block.tag, block.min, block.id], block.value);
        void this.meta.put('history', meta);
      })
      .then(
        () => {
          this.counters.written += samples;
          for (const listener of this.flushedListeners) listener();
        },
        (err: unknown) => {
          // History is best-effort: count and log the loss, keep running.
          this.counters.writeFailures++;
          this.state.bytes -= meta.bytes - before.bytes;
          this.state.blocks -= meta.blocks - before.blocks;
          this.log.error({ err, samples }, 'history write failed; these samples are lost');
        },
      )
      .finally(() => {
        this.inFlight = [];
        this.buffered -= samples;
        this.writing = null;
      });
    return this.writing;
  }

  /**
   * Deletes blocks whose newest sample is older than historyHours. Age is
   * counted from the newest sample time seen when that is earlier than the
   * wall clock: a gateway clock stepped an hour ahead must not expire an hour
   * of history that the sources (with their own clocks) say is recent.
   */
  async expire(): Promise<number> {
    const now = this.now();
    const cutoff = (this.newestSampleTs === Number.NEGATIVE_INFINITY ? now : Math.min(now, this.newestSampleTs)) - this.retentionMs;
    return this.deleteBefore(cutoff - BLOCK_MAX_SPAN_MS, 'expired');
  }

  /** Event time of the oldest stored block's first sample, or null. */
  oldestTs(): number | null {
    let oldest: number | null = null;
    for (const tag of this.tags) {
      for (const key of this.blocks.getKeys({ start: [tag] as unknown as BlockKey, end: [tag, Number.MAX_VALUE, 0], limit: 1 })) {
        if (oldest === null || key[1] < oldest) oldest = key[1];
      }
    }
    return oldest;
  }

  /**
   * Quota eviction: deletes every block (all tags) that starts before
   * `beforeTs`. Resolves with the samples and bytes removed once committed.
   */
  async evictBefore(beforeTs: number): Promise<{ samples: number; bytes: number; blocks: number }> {
    const bytesBefore = this.state.bytes;
    const blocksBefore = this.state.blocks;
    const samples = await this.deleteBefore(beforeTs, 'evicted');
    return { samples, bytes: bytesBefore - this.state.bytes, blocks: blocksBefore - this.state.blocks };
  }

  bytes(): number {
    return this.state.bytes;
  }

  snapshot(): HistoryCounters & { bytes: number; blocks: number; buffered: number } {
    return { ...this.counters, bytes: this.state.bytes, blocks: this.state.blocks, buffered: this.buffered };
  }

  onFlushed(listener: () => void): void {
    this.flushedListeners.push(listener);
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await this.flush();
  }

  private seal(tag: string, block: OpenBlock): void {
    this.open.delete(tag);
    if (block.ts.length === 0) return;
    this.sealed.push({ tag, id: this.state.nextBlockId++, min: block.min, value: encodeBlock(block) });
  }

  /** Deletes run one after another: each counts bytes from what the previous one left. */
  private deleteBefore(beforeTs: number, reason: 'expired' | 'evicted'): Promise<number> {
    const run = this.deleting.then(() => this.deleteNow(beforeTs, reason));
    this.deleting = run.catch(() => undefined);
    return run;
  }

  private async deleteNow(beforeTs: number, reason: 'expired' | 'evicted'): Promise<number> {
    if (this.writing) await this.writing;
    const keys: BlockKey[] = [];
    let bytes = 0;
    let samples = 0;
    for (const tag of this.tags) {
      for (const { key, value } of this.blocks.getRange({ start: [tag] as unknown as BlockKey, end: [tag, beforeTs] as unknown as BlockKey })) {
        keys.push(key);
        bytes += value.length + BLOCK_OVERHEAD_BYTES;
        samples += blockSamples(value);
      }
    }
    if (keys.length === 0) return 0;
    this.state.bytes -= bytes;
    this.state.blocks -= keys.length;
    const meta = { ...this.state };
    try {
      await this.blocks.batch(() => {
        for (const key of keys) void this.blocks.remove(key);
        void this.meta.put('history', meta);
      });
    } catch (err) {
      this.state.bytes += bytes;
      this.state.blocks += keys.length;
      throw err;
    }
    this.counters[reason] += samples;
    return samples;
  }

  /** Distinct tags on disk, by skipping from one tag's keys to the next. */
  private storedTags(): string[] {
    const tags: string[] = [];
    let start = [''] as unknown as BlockKey;
    for (;;) {
      let next: string | undefined;
      for (const key of this.blocks.getKeys({ start, limit: 1 })) next = key[0];
      if (next === undefined) return tags;
      tags.push(next);
      start = [next, Number.MAX_VALUE, Number.MAX_VALUE];
    }
  }
}

/** Index-bucket min/max reduction to at most maxPoints indices, in time order. */
function downsample(order: number[], values: number[], maxPoints: number): number[] {
  if (maxPoints < 2) return order.slice(0, Math.max(0, maxPoints));
  const buckets = Math.floor(maxPoints / 2);
  const out: number[] = [];
  for (let b = 0; b < buckets; b++) {
    const lo = Math.floor((b * order.length) / buckets);
    const hi = Math.floor(((b + 1) * order.length) / buckets);
    let minAt = -1;
    let maxAt = -1;
    for (let j = lo; j < hi; j++) {
      const v = values[order[j]!]!;
      if (!Number.isFinite(v)) continue;
      if (minAt < 0 || v < values[order[minAt]!]!) minAt = j;
      if (maxAt < 0 || v > values[order[maxAt]!]!) maxAt = j;
    }
    if (minAt < 0) out.push(order[lo]!);
    else if (minAt === maxAt) out.push(order[minAt]!);
    else out.push(order[Math.min(minAt, maxAt)]!, order[Math.max(minAt, maxAt)]!);
  }
  return out;
}
