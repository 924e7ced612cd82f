import type { Quality } from '../../shared/sample.js';
import type { DueWindows, WindowLayout, WindowPrecision, WindowSpec } from './due-windows.js';

/**
 * Event-time windowing of one model: every tag is resampled on the model's
 * grid, windows are emitted as plain typed arrays. The rules (README.md in this
 * folder has an ASCII example):
 *
 * - Grid: cell c = floor(ts / P), aligned to the Unix epoch, so a replay and the
 *   live feed of the same samples fall into the same cells. A cell holds the
 *   sample with the latest source timestamp inside it (an older sample arriving
 *   later does not overwrite it; equal timestamps: the later arrival wins). The
 *   cell is bad (NaN) when that latest sample has bad quality or a non-finite
 *   value; `uncertain` counts as good.
 * - Watermark = newest source timestamp accepted − lateToleranceMs. A cell is
 *   closed once the watermark reaches its end; its value is final from then on.
 *   A sample whose cell is closed is late: counted and dropped. So a sample at
 *   most lateToleranceMs behind the newest one is always accepted, and one a
 *   little older is still accepted while its cell is open.
 * - Forward fill, applied when a cell closes: an empty cell takes the latest
 *   earlier sample of the tag if (cell end − that sample's ts) ≤
 *   forwardFillMaxAgeMs — counted as filled, or as bad when that sample was bad
 *   (a failed sensor is not hidden behind its last good value). Otherwise the
 *   cell is missing (NaN, counted as bad).
 * - Windows end at cells e with (e + 1) % hop === 0, cover [e − L + 1, e], and
 *   are emitted when cell e closes: start = (e − L + 1)·P, end = (e + 1)·P.
 *   The first window is the first whose start cell ≥ the earliest accepted
 *   sample's cell (no burst of empty windows at start-up).
 * - A window with no real sample (only filled or missing cells) is skipped and
 *   counted in skippedGapWindows; a jump of the watermark over a long gap is
 *   crossed in constant time, so the ring stays L + ceil(tolerance / P) + 2
 *   cells whatever the gap.
 * - sufficient = filledShare ≤ maxFilledShare && badShare ≤ maxBadShare.
 *
 * Memory: the ring is slot-major (slot·tags + tag) so a cell's values for all
 * tags are contiguous and a window is one sequential copy. `offer` writes into
 * preallocated typed arrays only. Windows are copied out when their last cell
 * closes (the ring never has to keep them), into a preallocated batch of
 * maxWindowsPerTake windows; a full batch waits for `takeDue` and a fresh one
 * is allocated — allocation per window batch, never per sample. Each window is
 * written in the layout of the model the windower serves (`layout`), and the
 * NaN cells of sufficient windows are listed as they are copied, so building
 * the model's input is a plain copy plus those few cells. Pending
 * windows are bounded by maxPendingWindows; beyond it the oldest batch is
 * dropped and counted in overflowWindows (call takeDue after each consumed
 * batch of samples and this never happens).
 */

export interface WindowerCounters {
  /** Samples offered, including those dropped. */
  samples: number;
  /** Dropped because their cell had already closed. */
  late: number;
  /** Dropped because the timestamp or tag index was unusable (NaN, ±Infinity, out of range). */
  invalid: number;
  /** Windows emitted (sufficient or not), including any later lost to overflow. */
  windows: number;
  /** Emitted windows marked insufficient by the missing-data policy. */
  insufficient: number;
  /** Windows with no real sample at all, not emitted. */
  skippedGapWindows: number;
  /** Emitted windows dropped because nobody took them and the pending bound was reached. */
  overflowWindows: number;
}

export interface WindowerOptions {
  /** Most windows one `takeDue` returns; default 256. */
  maxWindowsPerTake?: number;
  /** Bound on windows waiting for `takeDue`; default: about 32 MB of values, at least 2 × maxWindowsPerTake. */
  maxPendingWindows?: number;
  /** Cell order within each window of `DueWindows.values`: the model's input layout. Default 'batch,time,tag'. */
  layout?: WindowLayout;
  /** Number type of `DueWindows.values` (see WindowPrecision); default float64. Can change later with `setPrecision`. */
  precision?: WindowPrecision;
}

const GOOD = 1;
const BAD = 2;
const FILLED = 3;
const MISSING = 4;

const PENDING_VALUES_BUDGET = 4 * 1024 * 1024;

/** A batch being filled: DueWindows without the shape, which the windower adds when it hands it out. */
type Batch = Omit<DueWindows, 'length' | 'tags' | 'layout' | 'nanCells' | 'nanStarts'> & {
  /** Grows (doubling) when the listed NaN cells outgrow it: per batch, never per sample. */
  nanCells: Int32Array;
  nanStarts: Int32Array;
  nanCount: number;
};

function newBatch(windows: number, cellsPerWindow: number, precision: WindowPrecision): Batch {
  return {
    count: 0,
    values: precision === 'float32' ? new Float32Array(windows * cellsPerWindow) : new Float64Array(windows * cellsPerWindow),
    starts: new Float64Array(windows),
    ends: new Float64Array(windows),
    filledShare: new Float64Array(windows),
    badShare: new Float64Array(windows),
    sufficient: new Uint8Array(windows),
    // Room for a NaN cell or two per window before it first grows.
    nanCells: new Int32Array(Math.max(16, 2 * windows)),
    nanStarts: new Int32Array(windows + 1),
    nanCount: 0,
  };
}

export class ModelWindower {
  readonly spec: WindowSpec;
  /** Cells kept per tag; fixed at construction. */
  readonly ringCells: number;

  private readonly tagCount: number;
  private readonly period: number;
  private readonly length: number;
  private readonly hop: number;
  private readonly tolerance: number;
  private readonly fillAge: number;
  private readonly tagIndexes: ReadonlyMap<string, number>;
  private readonly maxPerTake: number;
  private readonly maxPending: number;
  private readonly tagMajor: boolean;
  /** Offset in the ring of each cell of the window being copied: scratch, so a tag-major copy need not wrap per cell. */
  private readonly windowBases: Int32Array;

  private readonly values: Float64Array;
  /** Timestamp of the sample held by a slot, or the start of the closed empty cell it represents: it tells which cell the slot belongs to, so slots never need clearing. */
  private readonly stamps: Float64Array;
  private readonly states: Uint8Array;
  private readonly cellFilled: Uint32Array;
  private readonly cellBad: Uint32Array;
  private readonly carryTs: Float64Array;
  private readonly carryValue: Float64Array;
  private readonly carryBad: Uint8Array;

  private started = false;
  private newestTs = -Infinity;
  /** Cells below this are closed. */
  private openFrom = -Infinity;
  private frontierCell = -Infinity;
  private firstCell = Infinity;
  private lastRealCell = -Infinity;
  private lastCell = NaN;
  private lastSlot = 0;

  private precisionOfValues: WindowPrecision;
  private staging: Batch;
  private readonly full: Batch[] = [];
  private pending = 0;
  private readonly count: WindowerCounters = { samples: 0, late: 0, invalid: 0, windows: 0, insufficient: 0, skippedGapWindows: 0, overflowWindows: 0 };

  constructor(spec: WindowSpec, options: WindowerOptions = {}) {
    checkSpec(spec);
    this.spec = spec;
    this.tagCount = spec.tags.length;
    this.period = spec.samplePeriodMs;
    this.length = spec.windowLength;
    this.hop = spec.hop;
    this.tolerance = spec.lateToleranceMs;
    this.fillAge = spec.forwardFillMaxAgeMs;
    this.tagIndexes = new Map(spec.tags.map((tag, i) => [tag, i]));
    // Open cells span at most ceil(tolerance / P) + 1 beyond the closed ones; the
    // next window needs L − 1 closed cells before them.
    this.ringCells = spec.windowLength + Math.ceil(spec.lateToleranceMs / spec.samplePeriodMs) + 2;
    const cellsPerWindow = spec.windowLength * this.tagCount;
    this.maxPerTake = Math.max(1, Math.floor(options.maxWindowsPerTake ?? 256));
    this.maxPending = Math.max(2 * this.maxPerTake, Math.floor(options.maxPendingWindows ?? PENDING_VALUES_BUDGET / cellsPerWindow));

    const slots = this.ringCells * this.tagCount;
    this.values = new Float64Array(slots);
    this.stamps = new Float64Array(slots).fill(NaN);
    this.states = new Uint8Array(slots);
    this.cellFilled = new Uint32Array(this.ringCells);
    this.cellBad = new Uint32Array(this.ringCells);
    this.carryTs = new Float64Array(this.tagCount).fill(NaN);
    this.carryValue = new Float64Array(this.tagCount);
    this.carryBad = new Uint8Array(this.tagCount);
    this.tagMajor = options.layout === 'batch,tag,time';
    this.windowBases = new Int32Array(spec.windowLength);
    this.precisionOfValues = options.precision ?? 'float64';
    this.staging = newBatch(this.maxPerTake, cellsPerWindow, this.precisionOfValues);
  }

  /** Number type of the values this windower cuts (see WindowPrecision). */
  get precision(): WindowPrecision {
    return this.precisionOfValues;
  }

  /**
   * Cuts windows in `precision` from now on (the batch being filled is
   * converted, so its next windows are cut in it). Returns how many windows
   * were already cut and are still waiting: switching to float64, those keep
   * their float32 rounding (≤ 6e-8 relative) — the caller says so.
   */
  setPrecision(precision: WindowPrecision): number {
    if (precision === this.precisionOfValues) return 0;
    this.precisionOfValues = precision;
    const s = this.staging;
    s.values = s.count === 0
      ? (precision === 'float32' ? new Float32Array(s.values.length) : new Float64Array(s.values.length))
      : (precision === 'float32' ? Float32Array.from(s.values) : Float64Array.from(s.values));
    return this.pending;
  }

  /** Cell order within each window this windower cuts. */
  get layout(): WindowLayout {
    return this.tagMajor ? 'batch,tag,time' : 'batch,time,tag';
  }

  indexOf(tag: string): number {
    return this.tagIndexes.get(tag) ?? -1;
  }

  /** Newest accepted source timestamp − lateToleranceMs; −Infinity before the first sample. */
  get watermark(): number {
    return this.newestTs - this.tolerance;
  }

  /** Puts one sample into its cell; false when it was dropped (late or invalid). Allocates nothing. */
  offer(tagIndex: number, ts: number, value: number, quality: Quality): boolean {
    this.count.samples++;
    if (!(ts > -8.64e15 && ts < 8.64e15) || !(tagIndex >= 0 && tagIndex < this.tagCount)) {
      this.count.invalid++;
      return false;
    }
    const period = this.period;
    const cell = Math.floor(ts / period);
    if (cell < this.openFrom) {
      this.count.late++;
      return false;
    }
    if (ts > this.newestTs) {
      this.newestTs = ts;
      const openFrom = Math.floor((ts - this.tolerance) / period);
      if (!this.started) {
        this.started = true;
        this.openFrom = openFrom;
      } else if (openFrom > this.openFrom) {
        this.closeCellsBefore(openFrom);
      }
    }
    if (cell > this.frontierCell) this.frontierCell = cell;
    if (cell < this.firstCell) this.firstCell = cell;

    // Most samples land in the same cell as the previous one: skip the modulo.
    if (cell !== this.lastCell) {
      this.lastCell = cell;
      this.lastSlot = this.slotOf(cell);
    }
    const i = this.lastSlot * this.tagCount + tagIndex;
    const held = this.stamps[i]!;
    // A slot holding a sample of this same cell keeps the newer one.
    if (held >= cell * period && held < (cell + 1) * period && ts < held) return true;
    this.stamps[i] = ts;
    this.values[i] = value;
    this.states[i] = quality === 'bad' || !Number.isFinite(value) ? BAD : GOOD;
    return true;
  }

  /** Due windows, oldest first, at most maxWindowsPerTake; null when none. Call again for more. */
  takeDue(): DueWindows | null {
    const batch = this.full.shift();
    if (batch) {
      this.pending -= batch.count;
      return this.toDue(batch);
    }
    const s = this.staging;
    if (s.count === 0) return null;
    const n = s.count;
    const cells = this.length * this.tagCount;
    const due = this.toDue({
      count: n,
      values: s.values.slice(0, n * cells),
      starts: s.starts.slice(0, n),
      ends: s.ends.slice(0, n),
      filledShare: s.filledShare.slice(0, n),
      badShare: s.badShare.slice(0, n),
      sufficient: s.sufficient.slice(0, n),
      nanCells: s.nanCells.slice(0, s.nanCount),
      nanStarts: s.nanStarts.slice(0, n + 1),
      nanCount: s.nanCount,
    });
    s.count = 0;
    s.nanCount = 0;
    this.pending -= n;
    return due;
  }

  counters(): WindowerCounters {
    return { ...this.count };
  }

  private toDue(b: Batch): DueWindows {
    return {
      count: b.count,
      length: this.length,
      tags: this.tagCount,
      values: b.values,
      layout: this.layout,
      nanCells: b.nanCells.length === b.nanCount ? b.nanCells : b.nanCells.subarray(0, b.nanCount),
      nanStarts: b.nanStarts,
      starts: b.starts,
      ends: b.ends,
      filledShare: b.filledShare,
      badShare: b.badShare,
      sufficient: b.sufficient,
    };
  }

  private slotOf(cell: number): number {
    const slot = cell % this.ringCells;
    return slot < 0 ? slot + this.ringCells : slot;
  }

  private closeCellsBefore(openFrom: number): void {
    const length = this.length;
    const hop = this.hop;
    let cell = this.openFrom;
    while (cell < openFrom) {
      // Past the last window that can hold a real sample, every cell is empty
      // (no sample lies beyond frontierCell): count the windows ending there as
      // skipped and close only the cells the next windows still need.
      if (cell > this.frontierCell + length - 1 && cell < openFrom - length) {
        const to = openFrom - length;
        this.count.skippedGapWindows += Math.floor(to / hop) - Math.floor(cell / hop);
        cell = to;
        continue;
      }
      this.closeCell(cell);
      if ((cell + 1) % hop === 0 && cell - length + 1 >= this.firstCell) this.emitWindowEndingAt(cell);
      cell++;
    }
    this.openFrom = openFrom;
  }

  private closeCell(cell: number): void {
    const tags = this.tagCount;
    const start = cell * this.period;
    const end = start + this.period;
    const slot = this.slotOf(cell);
    const base = slot * tags;
    let filled = 0;
    let bad = 0;
    let real = false;
    for (let t = 0; t < tags; t++) {
      const i = base + t;
      const held = this.stamps[i]!;
      if (held >= start && held < end) {
        real = true;
        this.carryTs[t] = held;
        if (this.states[i] === BAD) {
          this.carryBad[t] = 1;
          this.values[i] = NaN;
          bad++;
        } else {
          this.carryBad[t] = 0;
          this.carryValue[t] = this.values[i]!;
        }
        continue;
      }
      this.stamps[i] = start;
      // carryTs is NaN before the tag's first sample, so the comparison fails.
      if (end - this.carryTs[t]! <= this.fillAge) {
        if (this.carryBad[t] === 1) {
          this.states[i] = BAD;
          this.values[i] = NaN;
          bad++;
        } else {
          this.states[i] = FILLED;
          this.values[i] = this.carryValue[t]!;
          filled++;
        }
      } else {
        this.states[i] = MISSING;
        this.values[i] = NaN;
        bad++;
      }
    }
    this.cellFilled[slot] = filled;
    this.cellBad[slot] = bad;
    if (real) this.lastRealCell = cell;
  }

  private emitWindowEndingAt(endCell: number): void {
    const length = this.length;
    const startCell = endCell - length + 1;
    if (this.lastRealCell < startCell) {
      this.count.skippedGapWindows++;
      return;
    }
    if (this.pending >= this.maxPending) {
      const dropped = this.full.shift();
      if (dropped) {
        this.pending -= dropped.count;
        this.count.overflowWindows += dropped.count;
      }
    }
    const tags = this.tagCount;
    const b = this.staging;
    const w = b.count;
    let filled = 0;
    let bad = 0;
    let slot = this.slotOf(startCell);
    for (let k = 0; k < length; k++) {
      this.windowBases[k] = slot * tags;
      filled += this.cellFilled[slot]!;
      bad += this.cellBad[slot]!;
      slot = slot + 1 === this.ringCells ? 0 : slot + 1;
    }
    const cells = length * tags;
    const filledShare = filled / cells;
    const badShare = bad / cells;
    const sufficient = filledShare <= this.spec.maxFilledShare && badShare <= this.spec.maxBadShare;
    // A cell is NaN exactly when it was counted bad, so `bad` says how many a sufficient window lists.
    if (sufficient && bad > 0) {
      if (b.nanCount + bad > b.nanCells.length) {
        const grown = new Int32Array(Math.max(2 * b.nanCells.length, b.nanCount + bad));
        grown.set(b.nanCells.subarray(0, b.nanCount));
        b.nanCells = grown;
      }
      b.nanCount = this.tagMajor ? this.copyTagMajorListing(w * cells, b) : this.copyTimeMajorListing(w * cells, b);
    } else if (this.tagMajor) {
      this.copyTagMajor(w * cells, b.values);
    } else {
      this.copyTimeMajor(w * cells, b.values);
    }
    b.nanStarts[w + 1] = b.nanCount;
    b.starts[w] = startCell * this.period;
    b.ends[w] = (endCell + 1) * this.period;
    b.filledShare[w] = filledShare;
    b.badShare[w] = badShare;
    b.sufficient[w] = sufficient ? 1 : 0;
    b.count = w + 1;
    this.pending++;
    this.count.windows++;
    if (!sufficient) this.count.insufficient++;
    if (b.count === this.maxPerTake) {
      this.full.push(b);
      this.staging = newBatch(this.maxPerTake, cells, this.precisionOfValues);
    }
  }

  /** The window whose cells start at `windowBases` into `out` from `o`, [time][tag]. */
  private copyTimeMajor(o: number, out: Float64Array | Float32Array): void {
    const tags = this.tagCount;
    for (let k = 0; k < this.length; k++) {
      let i = this.windowBases[k]!;
      const stop = i + tags;
      while (i < stop) out[o++] = this.values[i++]!;
    }
  }

  /** As `copyTimeMajor`, [tag][time]. */
  private copyTagMajor(o: number, out: Float64Array | Float32Array): void {
    const tags = this.tagCount;
    const length = this.length;
    const bases = this.windowBases;
    for (let t = 0; t < tags; t++) {
      for (let k = 0; k < length; k++) out[o++] = this.values[bases[k]! + t]!;
    }
  }

  /** `copyTimeMajor`, listing each NaN cell (its position in the window) in `b.nanCells`; returns the new count. */
  private copyTimeMajorListing(o: number, b: Batch): number {
    const tags = this.tagCount;
    const out = b.values;
    const list = b.nanCells;
    let n = b.nanCount;
    let c = 0;
    for (let k = 0; k < this.length; k++) {
      const base = this.windowBases[k]!;
      for (let t = 0; t < tags; t++, c++) {
        const v = this.values[base + t]!;
        out[o + c] = v;
        if (v !== v) list[n++] = c;
      }
    }
    return n;
  }

  /** `copyTagMajor`, listing each NaN cell as `copyTimeMajorListing` does. */
  private copyTagMajorListing(o: number, b: Batch): number {
    const tags = this.tagCount;
    const length = this.length;
    const bases = this.windowBases;
    const out = b.values;
    const list = b.nanCells;
    let n = b.nanCount;
    let c = 0;
    for (let t = 0; t < tags; t++) {
      for (let k = 0; k < length; k++, c++) {
        const v = this.values[bases[k]! + t]!;
        out[o + c] = v;
        if (v !== v) list[n++] = c;
      }
    }
    return n;
  }
}

function checkSpec(spec: WindowSpec): void {
  const positiveInts: Array<[string, number]> = [
    ['samplePeriodMs', spec.samplePeriodMs],
    ['windowLength', spec.windowLength],
    ['hop', spec.hop],
  ];
  for (const [name, v] of positiveInts) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`window spec: ${name} must be a positive integer, got ${v}`);
  }
  if (spec.tags.length === 0) throw new RangeError('window spec: a model needs at least one tag');
  if (new Set(spec.tags).size !== spec.tags.length) throw new RangeError('window spec: a tag is listed twice');
  for (const [name, v] of [['lateToleranceMs', spec.lateToleranceMs], ['forwardFillMaxAgeMs', spec.forwardFillMaxAgeMs]] as const) {
    if (!(v >= 0 && Number.isFinite(v))) throw new RangeError(`window spec: ${name} must be a finite number ≥ 0, got ${v}`);
  }
}
