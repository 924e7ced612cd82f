import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { buildInputTensorData } from '../../agent/scoring/build-input.js';
import { ScoringClient } from '../../agent/scoring/scoring-client.js';
import { scoreDueWindows } from '../../agent/scoring/score-windows.js';
import type { DueWindows } from '../../agent/windows/due-windows.js';
import { ModelManifestSchema, type ModelManifest } from '../../shared/model-manifest.js';

/**
 * `npm run bench:score`: the agent's scoring path against a bare `session.run`
 * loop on the same model, batch size and thread count, in one run.
 *
 * 1. ceilings, in this process before the worker starts: a bare batched loop
 *    (one prebuilt input tensor of --batch windows, `await session.run` flat
 *    out) and a batch-1 loop;
 * 2. the agent flat out: synthetic DueWindows of --batch windows (1 % NaN cells
 *    to impute) → scoreDueWindows → build-input on this thread (into input
 *    buffers the worker hands back) → ScoringClient worker → results; --lanes
 *    batches in flight (default 2, so the worker need not wait for the main
 *    thread); event-loop delay of this thread (monitorEventLoopDelay, 1 ms
 *    resolution) measured meanwhile;
 * 3. latency at a realistic rate: --models models (the same ONNX loaded under
 *    as many keys) each completing --per-tick windows every 100 ms, staggered;
 *    latency = from the moment a batch is due (its windows' last sample is in:
 *    the scheduled tick) to its WindowResults, p50/p99 per window.
 * Options: --seconds N per throughput phase (default 3), --batch N (256),
 * --threads N (ORT intra-op threads, default 1 on both sides), --models N (20),
 * --per-tick N (10, i.e. 2,000 windows/s with 20 models), --model pca4x60|ae_chfirst|both,
 * --lanes N (batches in flight in the flat-out phase, default 2).
 * The ceiling is the same on every run: whatever --lanes says, the bare loop
 * is one thread running one prebuilt batch after another.
 */

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    batch: { type: 'string', default: '256' },
    threads: { type: 'string', default: '1' },
    models: { type: 'string', default: '20' },
    'per-tick': { type: 'string', default: '10' },
    model: { type: 'string', default: 'both' },
    lanes: { type: 'string', default: '2' },
  },
});
const seconds = Number(opts.seconds);
const batch = Number(opts.batch);
const threads = Number(opts.threads);
const modelCount = Number(opts.models);
const perTick = Number(opts['per-tick']);
const lanes = Number(opts.lanes);
const TICK_MS = 100;

const dir = fileURLToPath(new URL('../fixtures/models/', import.meta.url));
const manifestOf = (file: string): ModelManifest => ModelManifestSchema.parse(JSON.parse(readFileSync(`${dir}${file}.manifest.json`, 'utf8')));
const onnxOf = (file: string): Uint8Array => readFileSync(`${dir}${file}.onnx`);

function syntheticWindows(manifest: ModelManifest, count: number, seed: number): DueWindows {
  const length = manifest.windowLength;
  const tags = manifest.tags.length;
  const values = new Float64Array(count * length * tags);
  let x = seed;
  for (let i = 0; i < values.length; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    // About 1 % of the cells are NaN, as bad-quality cells in a sufficient window are.
    values[i] = x % 100 === 0 ? Number.NaN : (x / 2147483648) * 2 - 1;
  }
  return {
    count,
    length,
    tags,
    values,
    starts: Float64Array.from({ length: count }, (_, w) => w * 1000),
    ends: Float64Array.from({ length: count }, (_, w) => w * 1000 + length * manifest.samplePeriodMs),
    filledShare: new Float64Array(count),
    badShare: new Float64Array(count).fill(0.01),
    sufficient: new Uint8Array(count).fill(1),
  };
}

async function bareLoop(manifest: ModelManifest, bytes: Uint8Array, n: number, ms: number): Promise<number> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads });
  const windows = syntheticWindows(manifest, n, 7);
  const data = buildInputTensorData(manifest, windows, Array.from({ length: n }, (_, i) => i));
  const dims = manifest.input.layout === 'batch,time,tag' ? [n, manifest.windowLength, manifest.tags.length] : [n, manifest.tags.length, manifest.windowLength];
  const feeds = { [manifest.input.name]: new ort.Tensor(manifest.input.dtype, data, dims) };
  for (let i = 0; i < 50; i++) await session.run(feeds);
  let windowsDone = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    await session.run(feeds);
    windowsDone += n;
  }
  const rate = windowsDone / ((performance.now() - t0) / 1000);
  await session.release();
  return rate;
}

async function agentFlatOut(client: ScoringClient, key: string, manifest: ModelManifest, ms: number): Promise<{ rate: number; eldP99: number; eldMax: number }> {
  const windows = syntheticWindows(manifest, batch, 11);
  for (let i = 0; i < 20; i++) await scoreDueWindows(client, key, manifest, windows, { shadow: false });
  const eld = monitorEventLoopDelay({ resolution: 1 });
  let done = 0;
  const t0 = performance.now();
  eld.enable();
  const lane = async (): Promise<void> => {
    while (performance.now() - t0 < ms) {
      const results = await scoreDueWindows(client, key, manifest, windows, { shadow: false });
      done += results.length;
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  eld.disable();
  return { rate: done / ((performance.now() - t0) / 1000), eldP99: eld.percentile(99) / 1e6, eldMax: eld.max / 1e6 };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function latencyPhase(client: ScoringClient, manifest: ModelManifest, bytes: Uint8Array, ms: number): Promise<{ p50: number; p99: number; eldP99: number; windowsPerS: number }> {
  const keys = Array.from({ length: modelCount }, (_, i) => `m${i}`);
  for (const key of keys) await client.load(key, manifest, bytes);
  const windows = syntheticWindows(manifest, perTick, 13);
  const latencies: number[] = [];
  const eld = monitorEventLoopDelay({ resolution: 1 });
  const t0 = performance.now() + 50;
  eld.enable();
  await Promise.all(
    keys.map(async (key, m) => {
      // Models complete their windows at staggered instants within each tick, as independent hops do.
      const offset = (m * TICK_MS) / modelCount;
      const inFlight: Array<Promise<void>> = [];
      for (let tick = 0; offset + tick * TICK_MS < ms; tick++) {
        const due = t0 + offset + tick * TICK_MS;
        // setTimeout may fire up to a millisecond early (it rounds): wait until the batch is really due, so latency is never negative.
        for (let wait = due - performance.now(); wait > 0; wait = due - performance.now()) await new Promise((r) => setTimeout(r, Math.max(1, wait)));
        inFlight.push(
          scoreDueWindows(client, key, manifest, windows, { shadow: false }).then((results) => {
            const latency = performance.now() - due;
            for (let i = 0; i < results.length; i++) latencies.push(latency);
          }),
        );
      }
      await Promise.all(inFlight);
    }),
  );
  eld.disable();
  for (const key of keys) await client.unload(key);
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), eldP99: eld.percentile(99) / 1e6, windowsPerS: latencies.length / (ms / 1000) };
}

const fmt = (v: number, digits = 0): string => v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main(): Promise<void> {
  const files = opts.model === 'both' ? ['pca4x60', 'ae_chfirst'] : [opts.model as string];
  const ms = seconds * 1000;
  const ceilings = new Map<string, { batched: number; single: number }>();
  for (const file of files) {
    const manifest = manifestOf(file);
    const bytes = onnxOf(file);
    ceilings.set(file, { batched: await bareLoop(manifest, bytes, batch, ms), single: await bareLoop(manifest, bytes, 1, ms) });
  }

  const client = await ScoringClient.start({ intraOpThreads: threads, maxBatch: batch });
  const rows: Array<{ file: string; bare: number; single: number; agent: number; eldP99: number; eldMax: number }> = [];
  for (const file of files) {
    const manifest = manifestOf(file);
    await client.load(file, manifest, onnxOf(file));
    const agent = await agentFlatOut(client, file, manifest, ms);
    const c = ceilings.get(file)!;
    rows.push({ file, bare: c.batched, single: c.single, agent: agent.rate, eldP99: agent.eldP99, eldMax: agent.eldMax });
  }
  const main = manifestOf(files[0]!);
  const latency = await latencyPhase(client, main, onnxOf(files[0]!), Math.max(5000, ms));
  await client.close();

  console.log(`\nbench:score  batch ${batch}, ORT intra-op threads ${threads}, ${seconds} s per throughput phase, ${lanes} batches in flight\n`);
  console.log('model        bare batched w/s   bare batch-1 w/s   agent w/s   agent/bare   agent/batch-1   event-loop p99 (max) ms');
  for (const r of rows) {
    console.log(
      `${r.file.padEnd(12)} ${fmt(r.bare).padStart(16)}   ${fmt(r.single).padStart(16)}   ${fmt(r.agent).padStart(9)}   ${fmt(r.agent / r.bare, 2).padStart(10)}   ${fmt(r.agent / r.single, 1).padStart(13)}   ${fmt(r.eldP99, 1)} (${fmt(r.eldMax, 1)})`,
    );
  }
  console.log(
    `\nlatency (${files[0]}): ${modelCount} models × ${perTick} windows every ${TICK_MS} ms (${fmt(latency.windowsPerS)} windows/s scored): ` +
      `due → results p50 ${fmt(latency.p50, 2)} ms, p99 ${fmt(latency.p99, 2)} ms; event-loop p99 ${fmt(latency.eldP99, 1)} ms\n`,
  );

  const head = rows[0]!;
  const eventloopP99 = Math.max(...rows.map((r) => r.eldP99), latency.eldP99);
  const checks = [
    { ok: head.agent >= 0.8 * head.bare, text: `agent ≥ 0.8 × bare batched loop (${fmt(head.agent / head.bare, 2)})` },
    { ok: head.agent >= 5 * head.single, text: `agent ≥ 5 × batch-1 loop (${fmt(head.agent / head.single, 1)})` },
    { ok: eventloopP99 <= 20, text: `event-loop delay p99 ≤ 20 ms (${fmt(eventloopP99, 1)} ms)` },
  ];
  for (const c of checks) console.log(`${c.ok ? 'OK  ' : 'MISS'} ${c.text}`);
  const result: Record<string, number | boolean | string> = {
    model: files[0]!,
    batch,
    lanes,
    windows_per_s: Math.round(head.agent),
    bare_batched_windows_per_s: Math.round(head.bare),
    bare_batch1_windows_per_s: Math.round(head.single),
    ratio_batched: Number((head.agent / head.bare).toFixed(3)),
    ratio_vs_batch1: Number((head.agent / head.single).toFixed(2)),
    eventloop_p99_ms: Number(eventloopP99.toFixed(2)),
    latency_p50_ms: Number(latency.p50.toFixed(2)),
    latency_p99_ms: Number(latency.p99.toFixed(2)),
    targets_met: checks.every((c) => c.ok),
  };
  for (const r of rows.slice(1)) {
    result[`${r.file}_windows_per_s`] = Math.round(r.agent);
    result[`${r.file}_ratio_batched`] = Number((r.agent / r.bare).toFixed(3));
    result[`${r.file}_ratio_vs_batch1`] = Number((r.agent / r.single).toFixed(2));
  }
  console.log(`RESULT ${JSON.stringify(result)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
