import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { readModelPackage } from '../../agent/models/package-file.js';
import { openVerifiedModel } from '../../agent/scoring/verify-model.js';
import { csvSegment, readCsvSeries } from '../../cloud-sync/training/csv-series.js';
import { cutWindows } from '../../cloud-sync/training/cut-windows.js';
import { packTrainedModel } from '../../cloud-sync/training/trained-package.js';
import { trainModel, type TrainedModel } from '../../cloud-sync/training/train-model.js';
import type { TrainingSegment } from '../../cloud-sync/training/training-data.js';
import type { FeatureKind } from '../../cloud-sync/training/window-features.js';
import { scoreWindows } from '../../cloud-sync/training/window-scorer.js';

/** Real plant data: SKAB valve1, read from the shared data folder beside the repository (never copied into it). */
const SKAB_FILE = fileURLToPath(new URL('../../../shared/data/skab/valve1/0.csv', import.meta.url));
const SENSORS = ['Accelerometer1RMS', 'Accelerometer2RMS', 'Current', 'Pressure', 'Temperature', 'Thermocouple', 'Voltage', 'Volume Flow RateRMS'];
const TOLERANCE = 1e-4;

/** Deterministic uniform numbers in [0, 1). */
function uniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296;
}

async function skabModel(features: FeatureKind[]): Promise<{ trained: TrainedModel; segment: TrainingSegment }> {
  const csv = await readCsvSeries(SKAB_FILE, { tags: SENSORS });
  const segment = csvSegment(csv, SENSORS);
  const head: TrainingSegment = { ...segment, series: segment.series.map((s) => ({ ...s, ts: s.ts.subarray(0, 400), values: s.values.subarray(0, 400) })) };
  const trained = trainModel({ name: 'skab-valve1-0', version: '1.0.0', tags: SENSORS, samplePeriodMs: 1000, windowLength: 30, hop: 1, normal: [head], method: { features } });
  return { trained, segment };
}

/** Runs the package's ONNX file on `count` windows and compares with the TypeScript computation. */
async function expectOnnxEqualsTypescript(trained: TrainedModel, input: Float32Array, count: number): Promise<{ maxScore: number }> {
  const { onnxBytes } = await packTrainedModel(trained);
  const session = await ort.InferenceSession.create(onnxBytes);
  try {
    const tags = trained.manifest.tags.length;
    const run = await session.run({ window: new ort.Tensor('float32', input, [count, trained.manifest.windowLength, tags]) });
    const expected = scoreWindows(trained.scorer, input, count, trained.manifest.windowLength);
    expect(run.score!.dims).toEqual([count]);
    expect(run.contrib!.dims).toEqual([count, tags]);
    const scores = run.score!.data as Float32Array;
    const contributions = run.contrib!.data as Float32Array;
    let worstScore = 0;
    let worstContribution = 0;
    for (let w = 0; w < count; w++) {
      const scale = Math.max(1, Math.abs(expected.scores[w]!));
      worstScore = Math.max(worstScore, Math.abs(scores[w]! - expected.scores[w]!) / scale);
      for (let k = 0; k < tags; k++) worstContribution = Math.max(worstContribution, Math.abs(contributions[w * tags + k]! - expected.contributions[w * tags + k]!) / scale);
    }
    expect(worstScore).toBeLessThan(TOLERANCE);
    expect(worstContribution).toBeLessThan(TOLERANCE);
    return { maxScore: Math.max(...expected.scores) };
  } finally {
    await session.release();
  }
}

describe.each([[['mean']], [['mean', 'spread']]] as Array<[FeatureKind[]]>)('exported ONNX (features %j) equals the TypeScript computation', (features) => {
  it('on every window of a real SKAB file, the anomaly included', async () => {
    const { trained, segment } = await skabModel(features);
    const manifest = readModelPackage((await packTrainedModel(trained)).bytes).manifest;
    const batches: Array<{ input: Float32Array; count: number }> = [];
    cutWindows(segment, manifest, (b) => batches.push(b));
    const count = batches.reduce((n, b) => n + b.count, 0);
    const input = new Float32Array(count * manifest.windowLength * SENSORS.length);
    let at = 0;
    for (const b of batches) {
      input.set(b.input, at);
      at += b.input.length;
    }
    expect(count).toBeGreaterThan(1000);
    const { maxScore } = await expectOnnxEqualsTypescript(trained, input, count);
    // The valve closing is far outside normal (a typical normal window scores about 1): large scores were compared too.
    expect(maxScore).toBeGreaterThan(50);
  });

  it('on random windows around and far outside the training range', async () => {
    const { trained } = await skabModel(features);
    const random = uniform(42);
    const { center, scale } = trained.scorer.scaling;
    const count = 300;
    const length = trained.manifest.windowLength;
    const tags = center.length;
    const input = new Float32Array(count * length * tags);
    for (let w = 0; w < count; w++) {
      // Windows 0..99 near normal, 100..199 a few scales off, 200..299 wildly off.
      const spread = w < 100 ? 1 : w < 200 ? 5 : 200;
      for (let i = 0; i < length * tags; i++) {
        const k = i % tags;
        input[w * length * tags + i] = center[k]! + (random() - 0.5) * 2 * spread * scale[k]!;
      }
    }
    await expectOnnxEqualsTypescript(trained, input, count);
  });

  it("passes every check the agent makes before activating it", async () => {
    const { trained } = await skabModel(features);
    const { bytes, manifest, onnxBytes } = await packTrainedModel(trained);
    const read = readModelPackage(bytes, 'trained.vmodel');
    expect(read.manifest).toEqual(manifest);
    const model = await openVerifiedModel(read.manifest, read.onnxBytes, { agentTags: new Set(SENSORS) });
    try {
      expect(model.batchMode).toBe('dynamic');
      expect(model.inputDims).toEqual([30, SENSORS.length]);
    } finally {
      await model.release();
    }
    // Opset 13 operators that ONNX Runtime's CPU provider has; nothing custom.
    const decoded = onnxProto.onnx.ModelProto.decode(onnxBytes);
    expect(decoded.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 13]]);
    const ops = new Set((decoded.graph?.node ?? []).map((n) => n.opType));
    expect(ops.size).toBeGreaterThan(5);
    for (const op of ops) expect(['Sub', 'Mul', 'Div', 'Add', 'ReduceMean', 'ReduceSum', 'Sqrt', 'Concat', 'Identity', 'MatMul']).toContain(op);
  });
});
