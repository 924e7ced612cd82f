import { cpus, loadavg } from 'node:os';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { WindowSpec } from '../../agent/windows/due-windows.js';
import { ModelWindower } from '../../agent/windows/model-windower.js';
import { WindowRouter } from '../../agent/windows/window-router.js';
import type { Sample } from '../../shared/sample.js';

/**
 * `npm run bench:windows`: event-time windowing (`offer` + `takeDue`) of 4
 * models × 20 tags at a 1 s period, against its ceiling measured in the same
 * run — the same samples appended to preallocated per-tag typed-array rings
 * and nothing else. Then allocation during the windowing loop (JS heap growth
 * and GC count, with a young generation large enough that a loop allocating
 * per sample would show both), and the same traffic through the WindowRouter
 * from Sample objects as the pipeline delivers them.
 *
 * Options: --samples N (default 5,000,000), --reps N (alternating pairs, default 3).
 * Run with node --expose-gc --max-semi-space-size=64 (the npm script does).
 */

const { values: opts } = parseArgs({ options: { samples: { type: 'string', default: '5000000' }, reps: { type: 'string', default: '3' } } });
const TOTAL = Number(opts.samples);
const REPS = Math.max(1, Number(opts.reps));

const MODELS = 4;
const TAGS_PER_MODEL = 20;
const TAGS = MODELS * TAGS_PER_MODEL;
const PERIOD_MS = 1000;
const BATCH = 4096; // samples between takeDue calls, like a pipeline batch
const T0 = 1_700_000_000_000;

const specs: WindowSpec[] = Array.from({ length: MODELS }, (_, m) => ({
  tags: Array.from({ length: TAGS_PER_MODEL }, (_, t) => `m${m}.t${t}`),
  samplePeriodMs: PERIOD_MS,
  windowLength: 60,
  hop: 10,
  forwardFillMaxAgeMs: 3000,
  maxFilledShare: 0.2,
  maxBadShare: 0.1,
  lateToleranceMs: 2000,
}));

/**
 * One block of input, replayed with its timestamps shifted so time keeps
 * moving: every tag once per second, jittered inside the second (so samples
 * arrive out of order by up to ~1 s), 3 % skipped (forward fill), 2 % bad.
 */
const BLOCK_SECONDS = Math.max(1, Math.floor(Math.min(TOTAL, 1_000_000) / TAGS));
const BLOCK = BLOCK_SECONDS * TAGS;
const BLOCK_MS = BLOCK_SECONDS * PERIOD_MS;
const inModel = new Uint8Array(BLOCK);
const inTag = new Uint8Array(BLOCK);
const inTs = new Float64Array(BLOCK);
const inValue = new Float64Array(BLOCK);
const inBad = new Uint8Array(BLOCK);
{
  let seed = 42;
  const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
  let i = 0;
  for (let s = 0; s < BLOCK_SECONDS; s++) {
    for (let g = 0; g < TAGS; g++) {
      inModel[i] = Math.floor(g / TAGS_PER_MODEL);
      inTag[i] = g % TAGS_PER_MODEL;
      // A skipped reading becomes a repeat inside the same cell, keeping the count fixed.
      const skip = rand() < 0.03;
      inTs[i] = s * PERIOD_MS + Math.floor(rand() * PERIOD_MS) - (skip ? PERIOD_MS : 0);
      inValue[i] = Math.sin(s / 60 + g) * 10 + rand();
      inBad[i] = rand() < 0.02 ? 1 : 0;
      i++;
    }
  }
}

interface Run {
  seconds: number;
  samples: number;
  windows: number;
}

function runWindowers(samples: number, windowers = specs.map((s) => new ModelWindower(s))): Run {
  let windows = 0;
  const started = performance.now();
  let n = 0;
  for (let base = T0; n < samples; base += BLOCK_MS) {
    const stop = Math.min(BLOCK, samples - n);
    for (let i = 0; i < stop; i++) {
      windowers[inModel[i]!]!.offer(inTag[i]!, base + inTs[i]!, inValue[i]!, inBad[i] === 1 ? 'bad' : 'good');
      if ((++n & (BATCH - 1)) === 0) {
        for (const w of windowers) for (let due = w.takeDue(); due; due = w.takeDue()) windows += due.count;
      }
    }
  }
  for (const w of windowers) for (let due = w.takeDue(); due; due = w.takeDue()) windows += due.count;
  return { seconds: (performance.now() - started) / 1000, samples, windows };
}

/** Offers only, no takeDue: a loop of its own so its optimised code is not shared with (and deoptimised by) the other phases. */
function offerOnly(samples: number, windowers: ModelWindower[]): void {
  let n = 0;
  for (let base = T0; n < samples; base += BLOCK_MS) {
    const stop = Math.min(BLOCK, samples - n);
    for (let i = 0; i < stop; i++) windowers[inModel[i]!]!.offer(inTag[i]!, base + inTs[i]!, inValue[i]!, inBad[i] === 1 ? 'bad' : 'good');
    n += stop;
  }
}

/** The ceiling: append value and timestamp to the tag's preallocated ring, nothing else. */
function runTypedArrayAppend(samples: number): Run {
  const cap = 64;
  const values = new Float64Array(TAGS * cap);
  const stamps = new Float64Array(TAGS * cap);
  const pos = new Uint32Array(TAGS);
  const started = performance.now();
  let n = 0;
  for (let base = T0; n < samples; base += BLOCK_MS) {
    const stop = Math.min(BLOCK, samples - n);
    for (let i = 0; i < stop; i++) {
      const g = inModel[i]! * TAGS_PER_MODEL + inTag[i]!;
      const p = pos[g]!;
      values[g * cap + p] = inBad[i] === 1 ? NaN : inValue[i]!;
      stamps[g * cap + p] = base + inTs[i]!;
      pos[g] = p + 1 === cap ? 0 : p + 1;
      n++;
    }
  }
  // Read the rings so the loop cannot be optimised away.
  let check = 0;
  for (let g = 0; g < TAGS; g++) check += stamps[g * cap]!;
  if (!(check > 0)) throw new Error('ceiling loop wrote nothing');
  return { seconds: (performance.now() - started) / 1000, samples, windows: 0 };
}

/** The same traffic as Sample objects in pipeline-sized batches through the router (objects prebuilt, timestamps rewritten per block). */
function runRouter(samples: number): Run {
  const router = new WindowRouter();
  const windowers = specs.map((s, m) => {
    const w = new ModelWindower(s);
    router.add(`m${m}@1.0.0`, w);
    return w;
  });
  const objects: Sample[] = Array.from({ length: BLOCK }, (_, i) => ({ tag: specs[inModel[i]!]!.tags[inTag[i]!]!, ts: T0 + inTs[i]!, value: inValue[i]!, quality: inBad[i] === 1 ? 'bad' : 'good' }));
  const batches: Sample[][] = [];
  for (let i = 0; i < BLOCK; i += BATCH) batches.push(objects.slice(i, i + BATCH));
  let windows = 0;
  let n = 0;
  const started = performance.now();
  for (let base = T0; n < samples; base += BLOCK_MS) {
    for (let i = 0; i < BLOCK; i++) objects[i]!.ts = base + inTs[i]!;
    for (const batch of batches) {
      if (n >= samples) break;
      router.consume(batch);
      n += batch.length;
      for (const w of windowers) for (let due = w.takeDue(); due; due = w.takeDue()) windows += due.count;
    }
  }
  return { seconds: (performance.now() - started) / 1000, samples: n, windows };
}

interface Allocation {
  samples: number;
  heapGrowth: number;
  arrayBufferGrowth: number;
  gcs: number;
  windows: number;
  late: number;
}

/**
 * Runs the windowing loop between two memory readings, counting GCs in it. With
 * `takeDue` the output arrays are allocated (per call, by contract) and their
 * external memory triggers GCs; without it, and a batch big enough for every
 * window of the run, the loop must allocate nothing at all.
 */
async function measureAllocation(samples: number, withTake: boolean): Promise<Allocation> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const windowsPerModel = Math.ceil(samples / TAGS / 10) + 2;
  const options = withTake ? {} : { maxWindowsPerTake: windowsPerModel };
  const loop = (n: number, ws: ModelWindower[]): number => {
    if (withTake) return runWindowers(n, ws).windows;
    offerOnly(n, ws);
    return 0;
  };
  // Warm up the JIT on throwaway windowers.
  for (let k = 0; k < 2; k++) loop(Math.min(samples, 200_000), specs.map((s) => new ModelWindower(s, options)));
  const windowers = specs.map((s) => new ModelWindower(s, options));
  // Collect, then let V8's concurrent sweeping finish, so it does not move the readings.
  for (let k = 0; k < 2; k++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 150));
  }
  const entries: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) entries.push(e.startTime);
  });
  observer.observe({ entryTypes: ['gc'] });
  const before = process.memoryUsage();
  const from = performance.now();
  let windows = loop(samples, windowers);
  const to = performance.now();
  const after = process.memoryUsage();
  // GC entries reach the observer a little later than the next turn.
  await new Promise((r) => setTimeout(r, 200));
  observer.disconnect();
  if (!withTake) for (const w of windowers) for (let due = w.takeDue(); due; due = w.takeDue()) windows += due.count;
  const late = windowers.reduce((sum, w) => sum + w.counters().late, 0);
  return { samples, heapGrowth: after.heapUsed - before.heapUsed, arrayBufferGrowth: after.arrayBuffers - before.arrayBuffers, gcs: entries.filter((t) => t >= from && t <= to).length, windows, late };
}

const rate = (r: Run) => r.samples / r.seconds;
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

async function main(): Promise<void> {
  console.log(`Vigil windowing benchmark — node ${process.version}; ${cpus().length} CPUs; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`${MODELS} models × ${TAGS_PER_MODEL} tags, period ${PERIOD_MS} ms, window 60 / hop 10, tolerance 2 s; ${fmt(TOTAL)} samples per run; takeDue every ${BATCH} samples; ${REPS} alternating pairs, best of each.\n`);
  if (!(globalThis as { gc?: unknown }).gc) console.log('(no --expose-gc: allocation figures are less precise)\n');

  let best = { windowers: undefined as Run | undefined, ceiling: undefined as Run | undefined };
  for (let r = 0; r < REPS; r++) {
    const c = runTypedArrayAppend(TOTAL);
    const w = runWindowers(TOTAL);
    if (!best.ceiling || rate(c) > rate(best.ceiling)) best = { ...best, ceiling: c };
    if (!best.windowers || rate(w) > rate(best.windowers)) best = { ...best, windowers: w };
  }
  const router = runRouter(TOTAL);
  const alloc = await measureAllocation(Math.min(TOTAL, 1_000_000), false);
  const allocTake = await measureAllocation(TOTAL, true);
  const w = best.windowers!;
  const c = best.ceiling!;
  const ratio = rate(w) / rate(c);
  const perSample = alloc.heapGrowth / alloc.samples;

  console.log('| subject | samples/s | windows | ns/sample |');
  console.log('|---|---:|---:|---:|');
  console.log(`| typed-array append (ceiling) | ${fmt(rate(c))} | – | ${(1e9 / rate(c)).toFixed(1)} |`);
  console.log(`| ModelWindower offer + takeDue | ${fmt(rate(w))} | ${fmt(w.windows)} | ${(1e9 / rate(w)).toFixed(1)} |`);
  console.log(`| WindowRouter.consume + takeDue (Sample objects) | ${fmt(rate(router))} | ${fmt(router.windows)} | ${(1e9 / rate(router)).toFixed(1)} |`);
  console.log(`\nratio windower ÷ ceiling: ${ratio.toFixed(3)}`);
  console.log(
    `\nallocation, offer only (windows assembled into one preallocated batch), ${fmt(alloc.samples)} samples → ${fmt(alloc.windows)} windows: ` +
      `JS heap ${fmt(alloc.heapGrowth)} B (${perSample.toFixed(4)} B/sample), array buffers ${fmt(alloc.arrayBufferGrowth)} B, GCs during the loop: ${alloc.gcs}`,
  );
  console.log(
    `allocation, offer + takeDue every ${BATCH} samples, ${fmt(allocTake.samples)} samples → ${fmt(allocTake.windows)} windows: ` +
      `JS heap ${fmt(allocTake.heapGrowth)} B, GCs during the loop: ${allocTake.gcs} (the output arrays takeDue allocates, ${fmt(60 * TAGS_PER_MODEL * 8)} B of values per window)`,
  );
  const misses: string[] = [];
  if (rate(w) < 1_000_000) misses.push(`MISS windowing ${fmt(rate(w))} samples/s < 1,000,000`);
  if (perSample >= 1) misses.push(`MISS ${perSample.toFixed(2)} B of JS heap per sample (target: no allocation per sample)`);
  if (alloc.gcs > 0) misses.push(`MISS ${alloc.gcs} GCs during the offer-only loop (target: no allocation per sample)`);
  const late = alloc.late + allocTake.late;
  if (late > 0) misses.push(`MISS ${late} samples counted late in in-tolerance traffic`);
  for (const m of misses) console.log(m);

  console.log(
    'RESULT ' +
      JSON.stringify({
        windows_samples_per_s: Math.round(rate(w)),
        ratio_vs_typed_array_append: Number(ratio.toFixed(3)),
        heap_growth_bytes_per_sample: Number(perSample.toFixed(4)),
        typed_array_append_samples_per_s: Math.round(rate(c)),
        router_samples_per_s: Math.round(rate(router)),
        gc_during_offer_loop: alloc.gcs,
        gc_during_offer_take_loop: allocTake.gcs,
        windows_emitted: w.windows,
        targets_met: misses.length === 0,
      }),
  );
}

await main();
