import { describe, expect, it } from 'vitest';
import { listNanCells, type DueWindows, type WindowSpec } from '../../agent/windows/due-windows.js';
import { ModelWindower } from '../../agent/windows/model-windower.js';
import { WindowRouter } from '../../agent/windows/window-router.js';
import type { Quality, Sample } from '../../shared/sample.js';

interface In {
  tag: number;
  ts: number;
  value: number;
  quality: Quality;
}

/** One emitted window as plain data, so runs can be compared with toEqual (NaN equals NaN there). */
interface Win {
  start: number;
  end: number;
  values: number[];
  filled: number;
  bad: number;
  sufficient: boolean;
}

const spec = (over: Partial<WindowSpec> = {}): WindowSpec => ({
  tags: ['a'],
  samplePeriodMs: 1000,
  windowLength: 4,
  hop: 2,
  forwardFillMaxAgeMs: 0,
  maxFilledShare: 1,
  maxBadShare: 1,
  lateToleranceMs: 0,
  ...over,
});

/**
 * Windows as plain data, values in [time][tag] order whatever layout the
 * windower cut them in; also checks that the NaN cells it listed are exactly
 * those of the sufficient windows.
 */
function unpack(due: DueWindows): Win[] {
  const cells = due.length * due.tags;
  const listed = listNanCells(due);
  expect(Array.from(due.nanCells!)).toEqual(Array.from(listed.nanCells));
  expect(Array.from(due.nanStarts!)).toEqual(Array.from(listed.nanStarts));
  const timeMajor = (w: number): number[] => {
    const v = Array.from(due.values.subarray(w * cells, (w + 1) * cells));
    if (due.layout !== 'batch,tag,time') return v;
    return v.map((_, i) => v[(i % due.tags) * due.length + Math.floor(i / due.tags)]!);
  };
  const out: Win[] = [];
  for (let w = 0; w < due.count; w++) {
    expect(due.values.length).toBe(due.count * cells);
    out.push({
      start: due.starts[w]!,
      end: due.ends[w]!,
      values: timeMajor(w),
      filled: due.filledShare[w]!,
      bad: due.badShare[w]!,
      sufficient: due.sufficient[w] === 1,
    });
  }
  return out;
}

function takeAll(w: ModelWindower): Win[] {
  const out: Win[] = [];
  for (let due = w.takeDue(); due; due = w.takeDue()) out.push(...unpack(due));
  return out;
}

function feed(w: ModelWindower, samples: readonly In[]): boolean[] {
  return samples.map((s) => w.offer(s.tag, s.ts, s.value, s.quality));
}

const good = (tag: number, ts: number, value: number): In => ({ tag, ts, value, quality: 'good' });

/** Seeded PRNG (mulberry32) so a failing case can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Irregular samples per tag: jittered period, skipped cells, bursts inside one cell, bad quality, NaN, optional long gap. Unique ts per tag. */
function randomSamples(r: () => number, s: WindowSpec, spanCells: number, gapCells = 0): In[] {
  const P = s.samplePeriodMs;
  const t0 = 1_700_000_000_000 + Math.floor(r() * 10 * P);
  const out: In[] = [];
  for (let tag = 0; tag < s.tags.length; tag++) {
    let ts = t0 + Math.floor(r() * P);
    const end = t0 + spanCells * P;
    while (ts < end) {
      const roll = r();
      const quality: Quality = roll < 0.05 ? 'bad' : roll < 0.1 ? 'uncertain' : 'good';
      const value = r() < 0.01 ? NaN : Math.round(r() * 1000) / 10;
      out.push({ tag, ts, value, quality });
      const step = r();
      if (step < 0.15) ts += 1 + Math.floor(r() * P * 0.3);
      else if (step < 0.85) ts += Math.floor(P * (0.5 + r()));
      else ts += Math.floor(P * (1 + r() * 6));
      if (gapCells > 0 && ts > t0 + (spanCells / 2) * P && ts < t0 + (spanCells / 2 + 1) * P) ts += gapCells * P;
    }
  }
  return out.sort((x, y) => x.ts - y.ts);
}

/** Arrival order: each sample delayed by less than the tolerance, so none is late. */
function shuffledWithinTolerance(r: () => number, samples: readonly In[], toleranceMs: number): In[] {
  return samples
    .map((s) => ({ s, key: s.ts + r() * toleranceMs }))
    .sort((x, y) => x.key - y.key)
    .map((x) => x.s);
}

/** Feeds in random chunks and takes due windows after each chunk, like the pipeline does. */
function feedChunked(r: () => number, w: ModelWindower, samples: readonly In[]): Win[] {
  const out: Win[] = [];
  let i = 0;
  while (i < samples.length) {
    const n = 1 + Math.floor(r() * 50);
    feed(w, samples.slice(i, i + n));
    i += n;
    if (r() < 0.7) out.push(...takeAll(w));
  }
  out.push(...takeAll(w));
  return out;
}

/**
 * The rules written the slow, obvious way: decide lateness in arrival order,
 * then resample the accepted samples with arrays and scans, no ring.
 */
function reference(s: WindowSpec, arrivals: readonly In[]): { windows: Win[]; late: number; skipped: number; insufficient: number } {
  const P = s.samplePeriodMs;
  const cellOf = (ts: number) => Math.floor(ts / P);
  let newest = -Infinity;
  let late = 0;
  const accepted: In[] = [];
  for (const a of arrivals) {
    if (newest !== -Infinity && cellOf(a.ts) < cellOf(newest - s.lateToleranceMs)) {
      late++;
      continue;
    }
    accepted.push(a);
    newest = Math.max(newest, a.ts);
  }
  const byTag = s.tags.map((_, t) => accepted.filter((a) => a.tag === t));
  const latestIn = (t: number, from: number, to: number): In | undefined =>
    byTag[t]!.filter((a) => a.ts >= from && a.ts < to).reduce<In | undefined>((best, a) => (best === undefined || a.ts >= best.ts ? a : best), undefined);
  const isBad = (a: In) => a.quality === 'bad' || !Number.isFinite(a.value);
  const firstCell = Math.min(...accepted.map((a) => cellOf(a.ts)));
  const watermark = newest - s.lateToleranceMs;
  const windows: Win[] = [];
  let skipped = 0;
  let insufficient = 0;
  const L = s.windowLength;
  const total = L * s.tags.length;
  for (let e = firstCell + L - 1; (e + 1) * P <= watermark; e++) {
    if ((e + 1) % s.hop !== 0) continue;
    const values: number[] = [];
    let filled = 0;
    let bad = 0;
    let real = false;
    for (let c = e - L + 1; c <= e; c++) {
      for (let t = 0; t < s.tags.length; t++) {
        const own = latestIn(t, c * P, (c + 1) * P);
        if (own) {
          real = true;
          if (isBad(own)) bad++;
          values.push(isBad(own) ? NaN : own.value);
          continue;
        }
        const prev = latestIn(t, -Infinity, c * P);
        if (prev && (c + 1) * P - prev.ts <= s.forwardFillMaxAgeMs) {
          if (isBad(prev)) bad++;
          else filled++;
          values.push(isBad(prev) ? NaN : prev.value);
        } else {
          bad++;
          values.push(NaN);
        }
      }
    }
    if (!real) {
      skipped++;
      continue;
    }
    const sufficient = filled / total <= s.maxFilledShare && bad / total <= s.maxBadShare;
    if (!sufficient) insufficient++;
    windows.push({ start: (e - L + 1) * P, end: (e + 1) * P, values, filled: filled / total, bad: bad / total, sufficient });
  }
  return { windows, late, skipped, insufficient };
}

describe('ModelWindower grid', () => {
  it('aligns cells to the epoch and emits windows of length cells every hop, ending where (e + 1) % hop === 0', () => {
    const w = new ModelWindower(spec({ tags: ['a', 'b'] }));
    expect(w.indexOf('b')).toBe(1);
    expect(w.indexOf('nope')).toBe(-1);
    for (let k = 10; k <= 21; k++) feed(w, [good(0, k * 1000 + 250, k + 0.25), good(1, k * 1000 + 750, -k)]);
    const got = takeAll(w);
    // Watermark 21 750 → cells up to 20 closed → windows ending at cells 13, 15, 17, 19.
    expect(got.map((x) => [x.start, x.end])).toEqual([
      [10_000, 14_000],
      [12_000, 16_000],
      [14_000, 18_000],
      [16_000, 20_000],
    ]);
    expect(got[0]!.values).toEqual([10.25, -10, 11.25, -11, 12.25, -12, 13.25, -13]);
    expect(got[3]!.values).toEqual([16.25, -16, 17.25, -17, 18.25, -18, 19.25, -19]);
    expect(got.every((x) => x.filled === 0 && x.bad === 0 && x.sufficient)).toBe(true);
    expect(w.counters()).toMatchObject({ samples: 24, late: 0, windows: 4, insufficient: 0, skippedGapWindows: 0 });
    expect(w.takeDue()).toBeNull();
  });

  it('emits nothing before the first sample: the first window starts at or after its cell', () => {
    const w = new ModelWindower(spec());
    const t0 = 1_700_000_011_000; // cell 1 700 000 011
    for (let k = 0; k < 12; k++) w.offer(0, t0 + k * 1000, k, 'good');
    const got = takeAll(w);
    // Windows end at odd cells; the first with start ≥ …011 ends at …015.
    expect(got[0]!.start).toBe(1_700_000_012_000);
    expect(got[0]!.values).toEqual([1, 2, 3, 4]);
    // Newest 22 000, no tolerance: cells up to 21 closed → windows end at 15, 17, 19, 21.
    expect(got).toHaveLength(4);
    expect(w.counters().skippedGapWindows).toBe(0);
  });

  it('keeps the newest sample of a cell, whatever order they arrive in', () => {
    const w = new ModelWindower(spec({ windowLength: 2, lateToleranceMs: 3000 }));
    feed(w, [good(0, 10_100, 1), good(0, 11_700, 2), good(0, 11_200, 99), good(0, 11_700, 3), good(0, 15_100, 4)]);
    // Equal timestamps: the later arrival wins (a correction of the same reading).
    expect(takeAll(w).map((x) => x.values)).toEqual([[1, 3]]);
  });

  it('returns at most maxWindowsPerTake windows per call, oldest first', () => {
    const w = new ModelWindower(spec({ windowLength: 1, hop: 1 }), { maxWindowsPerTake: 2 });
    for (let k = 0; k <= 5; k++) w.offer(0, k * 1000, k, 'good');
    const sizes: number[] = [];
    const starts: number[] = [];
    for (let due = w.takeDue(); due; due = w.takeDue()) {
      sizes.push(due.count);
      starts.push(...due.starts);
    }
    expect(sizes).toEqual([2, 2, 1]);
    expect(starts).toEqual([0, 1000, 2000, 3000, 4000]);
  });
});

describe('ModelWindower lateness', () => {
  const base = [good(0, 10_100, 1), good(0, 11_100, 2), good(0, 12_100, 3), good(0, 13_100, 4)];
  const closing = [good(0, 14_100, 5), good(0, 15_100, 6)];
  const s = spec({ windowLength: 2, lateToleranceMs: 3000 });

  it('puts a sample that is late but within tolerance into its cell, changing the emitted window', () => {
    const without = new ModelWindower(s);
    feed(without, [...base, ...closing]);
    expect(takeAll(without)[0]!.values).toEqual([1, 2]);

    const w = new ModelWindower(s);
    // 11 900 arrives after 13 100: 1.2 s late, tolerance 3 s, newer than 11 100 in cell 11.
    expect(feed(w, [...base, good(0, 11_900, 99), ...closing])).toEqual(Array(7).fill(true));
    const got = takeAll(w);
    expect(got[0]).toMatchObject({ start: 10_000, end: 12_000, values: [1, 99] });
    expect(w.counters().late).toBe(0);
  });

  it('counts and drops a sample whose cell has closed, and leaves the windows alone', () => {
    const w = new ModelWindower(s);
    feed(w, [...base, ...closing]);
    // Newest 15 100 → watermark 12 100 → cells below 12 closed.
    expect(w.watermark).toBe(12_100);
    expect(w.offer(0, 11_999, 77, 'good')).toBe(false);
    expect(w.offer(0, 9_000, 77, 'good')).toBe(false);
    // Behind the watermark but its cell (12) is still open: accepted.
    expect(w.offer(0, 12_050, 88, 'good')).toBe(true);
    expect(w.counters()).toMatchObject({ samples: 9, late: 2 });
    feed(w, [good(0, 17_100, 7)]);
    expect(takeAll(w).map((x) => x.values)).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it('counts unusable timestamps and tag indexes as invalid instead of letting them move the watermark', () => {
    const w = new ModelWindower(s);
    expect(w.offer(0, NaN, 1, 'good')).toBe(false);
    expect(w.offer(0, Infinity, 1, 'good')).toBe(false);
    expect(w.offer(5, 10_000, 1, 'good')).toBe(false);
    expect(w.offer(-1, 10_000, 1, 'good')).toBe(false);
    expect(w.watermark).toBe(-Infinity);
    expect(w.counters()).toMatchObject({ samples: 4, invalid: 4, late: 0 });
  });
});

describe('ModelWindower missing data', () => {
  it('forward fills an empty cell while the last sample is at most forwardFillMaxAgeMs old at the cell end, then marks it missing', () => {
    const s = spec({ windowLength: 6, hop: 6, forwardFillMaxAgeMs: 2500 });
    const w = new ModelWindower(s);
    feed(w, [good(0, 12_000, 5), good(0, 18_000, 6)]);
    // Cell 13 ends 14 000: 2 000 old → filled; cell 14 ends 15 000: 3 000 old → missing.
    const [win] = takeAll(w);
    expect(win).toMatchObject({ start: 12_000, end: 18_000, filled: 1 / 6, bad: 4 / 6 });
    expect(win!.values).toEqual([5, 5, NaN, NaN, NaN, NaN]);

    // The age runs from the cell's latest sample, not its first.
    const later = new ModelWindower(s);
    feed(later, [good(0, 12_000, 5), good(0, 12_900, 7), good(0, 18_000, 6)]);
    expect(takeAll(later)[0]!.values).toEqual([7, 7, 7, NaN, NaN, NaN]);
  });

  it('does not fill across a bad reading: the empty cells after it are bad, not filled', () => {
    const w = new ModelWindower(spec({ windowLength: 4, hop: 4, forwardFillMaxAgeMs: 5000 }));
    feed(w, [good(0, 0, 1), { tag: 0, ts: 1000, value: 2, quality: 'bad' }, good(0, 4000, 3)]);
    const [win] = takeAll(w);
    expect(win).toMatchObject({ values: [1, NaN, NaN, NaN], filled: 0, bad: 3 / 4 });
  });

  it('makes a cell bad only when its latest sample is bad; uncertain counts as good; a NaN value counts as bad', () => {
    const w = new ModelWindower(spec({ windowLength: 4, hop: 4 }));
    feed(w, [
      { tag: 0, ts: 0, value: 1, quality: 'bad' },
      good(0, 500, 10), // newer good sample in cell 0
      good(0, 1000, 20),
      { tag: 0, ts: 1500, value: 21, quality: 'bad' }, // newer bad sample in cell 1
      { tag: 0, ts: 2000, value: 30, quality: 'uncertain' },
      good(0, 3000, NaN),
      good(0, 4000, 0),
    ]);
    const [win] = takeAll(w);
    expect(win).toMatchObject({ values: [10, NaN, 30, NaN], bad: 0.5, filled: 0 });
  });

  it('marks windows insufficient by filled share and by bad share, at the limits inclusive', () => {
    const s = spec({ windowLength: 10, hop: 10, forwardFillMaxAgeMs: 100_000, maxFilledShare: 0.2, maxBadShare: 0.1 });
    const run = (cells: Array<'g' | 'e' | 'b'>): Win => {
      const w = new ModelWindower(s);
      cells.forEach((kind, c) => {
        if (kind === 'g') w.offer(0, c * 1000, c, 'good');
        if (kind === 'b') w.offer(0, c * 1000, c, 'bad');
      });
      w.offer(0, 10_000, 0, 'good');
      const [win] = takeAll(w);
      return win!;
    };
    expect(run(['g', 'g', 'e', 'e', 'g', 'g', 'g', 'g', 'g', 'g'])).toMatchObject({ filled: 0.2, bad: 0, sufficient: true });
    expect(run(['g', 'g', 'e', 'e', 'e', 'g', 'g', 'g', 'g', 'g'])).toMatchObject({ filled: 0.3, sufficient: false });
    expect(run(['g', 'g', 'b', 'g', 'g', 'g', 'g', 'g', 'g', 'g'])).toMatchObject({ bad: 0.1, sufficient: true });
    // Two bad readings: the empty cell after the second one is bad too.
    expect(run(['g', 'b', 'g', 'g', 'b', 'g', 'g', 'g', 'g', 'g'])).toMatchObject({ bad: 0.2, sufficient: false });

    const w = new ModelWindower(s);
    for (let c = 0; c < 30; c++) if (c % 10 !== 3 || c >= 10) w.offer(0, c * 1000, c, c < 20 ? 'good' : 'bad');
    w.offer(0, 30_000, 0, 'good');
    expect(takeAll(w).map((x) => x.sufficient)).toEqual([true, true, false]);
    expect(w.counters()).toMatchObject({ windows: 3, insufficient: 1 });
  });
});

describe('ModelWindower gaps', () => {
  it('skips and counts windows with no real sample across a long gap, emits the partly covered ones, and stays bounded', () => {
    const s = spec({ tags: ['a', 'b'], windowLength: 60, hop: 10, lateToleranceMs: 2000, forwardFillMaxAgeMs: 3000, maxFilledShare: 0.2, maxBadShare: 0.1 });
    const w = new ModelWindower(s);
    const ring = w.ringCells;
    expect(ring).toBe(60 + 2 + 2);
    const t0 = 1_700_000_000_000;
    const before = Array.from({ length: 150 }, (_, k) => [good(0, t0 + k * 1000, k), good(1, t0 + k * 1000 + 500, -k)]).flat();
    const t1 = t0 + 2 * 3600 * 1000; // two hours later
    const after = Array.from({ length: 150 }, (_, k) => [good(0, t1 + k * 1000, k), good(1, t1 + k * 1000 + 500, -k)]).flat();
    const started = performance.now();
    feed(w, before);
    const first = takeAll(w);
    feed(w, after);
    const second = takeAll(w);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(w.ringCells).toBe(ring);

    const expected = reference(s, [...before, ...after]);
    expect([...first, ...second]).toEqual(expected.windows);
    const c = w.counters();
    expect(c.skippedGapWindows).toBe(expected.skipped);
    // Data in cells 0–149 and from 7200 on (relative to t0): windows ending at
    // 209, 219, … 7199 hold no real sample → 700 skipped.
    expect(c.skippedGapWindows).toBe(700);
    expect(c.windows).toBe(expected.windows.length);
    // Windows reaching into the gap are emitted, insufficient.
    const partial = [...first, ...second].filter((x) => x.bad > 0);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.every((x) => !x.sufficient)).toBe(true);
  });

  it('crosses a clock step of years in constant time', () => {
    const w = new ModelWindower(spec({ windowLength: 60, hop: 1 }));
    for (let k = 0; k < 100; k++) w.offer(0, 1_700_000_000_000 + k * 1000, k, 'good');
    const started = performance.now();
    w.offer(0, 1_700_000_000_000 + 5 * 365 * 86_400_000, 1, 'good');
    expect(performance.now() - started).toBeLessThan(50);
    expect(w.counters().skippedGapWindows).toBeGreaterThan(157_000_000);
    w.offer(0, 1_700_000_000_000 + 5 * 365 * 86_400_000 + 1000, 2, 'good');
  });

  it('bounds windows nobody takes and counts the oldest ones it drops', () => {
    const w = new ModelWindower(spec({ windowLength: 1, hop: 1 }), { maxWindowsPerTake: 4, maxPendingWindows: 8 });
    for (let k = 0; k <= 20; k++) w.offer(0, k * 1000, k, 'good');
    const got = takeAll(w);
    const c = w.counters();
    expect(c.windows).toBe(20);
    expect(c.overflowWindows + got.length).toBe(20);
    expect(c.overflowWindows).toBeGreaterThan(0);
    // What is left is the newest, in order.
    expect(got.at(-1)!.start).toBe(19_000);
    expect(got.map((x) => x.start)).toEqual([...got.map((x) => x.start)].sort((a, b) => a - b));
  });
});

describe('ModelWindower replay equals live', () => {
  it('gives identical windows for in-order replay and shuffled, randomly chunked live arrival', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const r = rng(seed);
      const s = spec({ tags: ['a', 'b', 'c'], samplePeriodMs: 1000, windowLength: 10, hop: 3, lateToleranceMs: 5000, forwardFillMaxAgeMs: 2500, maxFilledShare: 0.3, maxBadShare: 0.2 });
      const samples = randomSamples(r, s, 400);
      const replay = new ModelWindower(s);
      feed(replay, samples);
      const replayed = takeAll(replay);
      const live = new ModelWindower(s, { maxWindowsPerTake: 3 });
      const lived = feedChunked(r, live, shuffledWithinTolerance(r, samples, s.lateToleranceMs));
      expect(replayed.length).toBeGreaterThan(50);
      expect(lived).toEqual(replayed);
      expect(live.counters()).toEqual(replay.counters());
      expect(live.counters().late).toBe(0);
    }
  });
});

describe('ModelWindower against a naive reference', () => {
  it('matches the reference on random specs, data, arrival orders, too-late samples and gaps', () => {
    for (let seed = 100; seed < 130; seed++) {
      const r = rng(seed);
      const tags = Array.from({ length: 1 + Math.floor(r() * 3) }, (_, i) => `t${i}`);
      const samplePeriodMs = [100, 250, 1000, 1500][Math.floor(r() * 4)]!;
      const windowLength = 1 + Math.floor(r() * 12);
      const s = spec({
        tags,
        samplePeriodMs,
        windowLength,
        hop: 1 + Math.floor(r() * windowLength),
        lateToleranceMs: Math.floor(r() * 4 * samplePeriodMs),
        forwardFillMaxAgeMs: Math.floor(r() * 4 * samplePeriodMs),
        maxFilledShare: Math.round(r() * 10) / 10,
        maxBadShare: Math.round(r() * 10) / 10,
      });
      const samples = randomSamples(r, s, 150 + Math.floor(r() * 100), r() < 0.4 ? 40 + Math.floor(r() * 200) : 0);
      const arrivals = shuffledWithinTolerance(r, samples, s.lateToleranceMs);
      // Stragglers far behind: late unless the windower has barely started.
      for (let k = 0; k < 10; k++) {
        const at = Math.floor(r() * arrivals.length);
        const victim = arrivals[at]!;
        arrivals.splice(at, 0, { ...victim, ts: victim.ts - s.lateToleranceMs - 3 * samplePeriodMs - 0.5, value: -1 });
      }
      const w = new ModelWindower(s, { maxWindowsPerTake: 1 + Math.floor(r() * 5) });
      const got = feedChunked(r, w, arrivals);
      const want = reference(s, arrivals);
      const context = `seed ${seed}: ${JSON.stringify(s)}`;
      expect(got, context).toEqual(want.windows);
      // Cut for a batch,tag,time model: the same windows, each written tag by tag.
      const tagMajor = new ModelWindower(s, { maxWindowsPerTake: 1 + Math.floor(r() * 5), layout: 'batch,tag,time' });
      expect(tagMajor.layout).toBe('batch,tag,time');
      expect(feedChunked(r, tagMajor, arrivals), `${context} batch,tag,time`).toEqual(want.windows);
      // Cut in float32 (for a model that reads float32 unscaled): the same windows, each value rounded to float32.
      const float32 = new ModelWindower(s, { maxWindowsPerTake: 1 + Math.floor(r() * 5), layout: r() < 0.5 ? 'batch,tag,time' : 'batch,time,tag', precision: 'float32' });
      const rounded = want.windows.map((win) => ({ ...win, values: win.values.map(Math.fround) }));
      expect(feedChunked(r, float32, arrivals), `${context} float32`).toEqual(rounded);
      expect(w.counters(), context).toMatchObject({ late: want.late, skippedGapWindows: want.skipped, insufficient: want.insufficient, windows: want.windows.length, samples: arrivals.length });
    }
  });
});

describe('ModelWindower layout', () => {
  it('writes each window in the model\'s layout and lists the NaN cells of sufficient windows only', () => {
    const s = spec({ tags: ['a', 'b'], windowLength: 3, hop: 3, maxBadShare: 0.4 });
    const w = new ModelWindower(s, { layout: 'batch,tag,time' });
    // Cells 0..5; tag b is bad in cell 1; tag a is missing in cells 3..5 (too many bad cells: insufficient).
    feed(w, [good(0, 0, 1), good(1, 0, 10), good(0, 1000, 2), { tag: 1, ts: 1000, value: 20, quality: 'bad' }, good(0, 2000, 3), good(1, 2000, 30)]);
    feed(w, [good(1, 3000, 40), good(1, 4000, 50), good(1, 5000, 60), good(0, 6000, 7), good(1, 6000, 70)]);
    const due = w.takeDue()!;
    expect(due.layout).toBe('batch,tag,time');
    expect(due.count).toBe(2);
    expect(Array.from(due.values.subarray(0, 6))).toEqual([1, 2, 3, 10, NaN, 30]);
    expect(Array.from(due.values.subarray(6))).toEqual([NaN, NaN, NaN, 40, 50, 60]);
    expect(Array.from(due.sufficient)).toEqual([1, 0]);
    expect(Array.from(due.nanStarts!)).toEqual([0, 1, 1]);
    expect(Array.from(due.nanCells!)).toEqual([4]);
  });
});

describe('ModelWindower precision', () => {
  it('cuts values as float64 by default and as float32 when asked, and switches for the windows cut after the switch', () => {
    const s = spec({ tags: ['a'], windowLength: 2, hop: 2, lateToleranceMs: 0 });
    const w = new ModelWindower(s, { precision: 'float32' });
    expect(w.precision).toBe('float32');
    feed(w, [good(0, 0, 0.1), good(0, 1000, 0.2), good(0, 2000, 0.3)]);
    // The first window (cells 0, 1) is cut in float32; switching to float64 says one window was cut before.
    expect(w.setPrecision('float64')).toBe(1);
    expect(w.setPrecision('float64')).toBe(0);
    feed(w, [good(0, 3000, 0.4), good(0, 4000, 0.5)]);
    const due = w.takeDue()!;
    // The batch being filled was converted when the precision changed: one array, now float64.
    expect(due.values).toBeInstanceOf(Float64Array);
    expect(Array.from(due.values)).toEqual([Math.fround(0.1), Math.fround(0.2), 0.3, 0.4]);
    expect(new ModelWindower(s).precision).toBe('float64');
  });
});

describe('WindowRouter', () => {
  it('routes shared tags to every model, each with its own grid and tag order', () => {
    const pump = spec({ tags: ['flow', 'pressure'], samplePeriodMs: 1000, windowLength: 3, hop: 3 });
    const motor = spec({ tags: ['current', 'pressure', 'flow'], samplePeriodMs: 2000, windowLength: 2, hop: 1, lateToleranceMs: 1000 });
    const router = new WindowRouter();
    router.add('pump@1.0.0', new ModelWindower(pump));
    router.add('motor@2.0.0', new ModelWindower(motor));
    expect(() => router.add('pump@1.0.0', new ModelWindower(pump))).toThrow(/already routed/);

    const samples: Sample[] = [];
    for (let k = 0; k < 40; k++) {
      samples.push({ tag: 'flow', ts: k * 500, value: k, quality: 'good' });
      samples.push({ tag: 'pressure', ts: k * 500 + 1, value: 100 + k, quality: 'good' });
      samples.push({ tag: 'current', ts: k * 500 + 2, value: 200 + k, quality: 'good' });
      samples.push({ tag: 'unused', ts: k * 500, value: 0, quality: 'good' });
    }
    for (let i = 0; i < samples.length; i += 7) router.consume(samples.slice(i, i + 7));

    // The same samples fed straight into fresh windowers give the same windows.
    for (const [key, s] of [['pump@1.0.0', pump], ['motor@2.0.0', motor]] as const) {
      const direct = new ModelWindower(s);
      for (const x of samples) {
        const idx = direct.indexOf(x.tag);
        if (idx >= 0) direct.offer(idx, x.ts, x.value, x.quality);
      }
      const expected = takeAll(direct);
      expect(expected.length).toBeGreaterThan(5);
      expect(takeAll(router.get(key)!)).toEqual(expected);
    }
    expect(router.unrouted).toBe(40);
    expect(router.counters()['pump@1.0.0']!.samples).toBe(80);
    expect(router.counters()['motor@2.0.0']!.samples).toBe(120);

    expect(router.remove('pump@1.0.0')).toBe(true);
    expect(router.remove('pump@1.0.0')).toBe(false);
    router.consume([{ tag: 'flow', ts: 100_000, value: 1, quality: 'good' }]);
    expect(Object.keys(router.counters())).toEqual(['motor@2.0.0']);
    expect(router.counters()['motor@2.0.0']!.samples).toBe(121);
  });
});
