import { describe, expect, it } from 'vitest';
import { EpisodeTracker } from '../../agent/episodes/episode-tracker.js';
import { parseManifest } from '../../agent/models/package-file.js';
import { cutWindows } from '../../cloud-sync/training/cut-windows.js';
import { trainModel, type TrainedModel, type TrainingRequest } from '../../cloud-sync/training/train-model.js';
import type { TrainingSegment } from '../../cloud-sync/training/training-data.js';
import { scoreWindows } from '../../cloud-sync/training/window-scorer.js';
import { VigilError } from '../../shared/errors.js';
import { levelOf, type ModelManifest } from '../../shared/model-manifest.js';
import type { WindowResult } from '../../shared/window-result.js';

const TAGS = ['line1.flow', 'line1.pressure', 'line1.current', 'line1.temp'];
const T0 = Date.UTC(2026, 2, 9, 6, 0, 0);

/** A seeded normal random generator (LCG + Box–Muller): the same data on every run. */
function gaussian(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) + 1) / 4294967297;
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/**
 * A small pumped line sampled every second: flow swings slowly, pressure and
 * current follow it, temperature wanders on its own. From `anomaly.from` to
 * `anomaly.to` (seconds) the pressure runs `offset` above what the flow says (0.1 is
 * twice its sample noise: invisible sample by sample, plain over a window).
 */
function plant(seconds: number, startSecond: number, seed: number, anomaly?: { from: number; to: number; offset: number }): TrainingSegment {
  const noise = gaussian(seed);
  const ts = new Float64Array(seconds);
  const columns = TAGS.map(() => new Float64Array(seconds));
  for (let i = 0; i < seconds; i++) {
    const t = startSecond + i;
    ts[i] = T0 + t * 1000 + 137;
    const flow = 50 + 5 * Math.sin((2 * Math.PI * t) / 600) + 0.5 * noise();
    const broken = anomaly && t >= anomaly.from && t < anomaly.to ? anomaly.offset : 0;
    columns[0]![i] = flow;
    columns[1]![i] = 2 + 0.04 * flow + 0.05 * noise() + broken;
    columns[2]![i] = 10 + 0.2 * flow + 0.2 * noise();
    columns[3]![i] = 60 + 0.5 * Math.sin((2 * Math.PI * t) / 1800) + 0.1 * noise();
  }
  return { source: { kind: 'csv', name: `synthetic-${startSecond}` }, series: TAGS.map((tag, k) => ({ tag, ts, values: columns[k]! })) };
}

function request(normal: TrainingSegment[], extra: Partial<TrainingRequest> = {}): TrainingRequest {
  return { name: 'line1-pca', version: '1.0.0', tags: TAGS, samplePeriodMs: 1000, windowLength: 30, hop: 5, normal, now: () => new Date(T0), ...extra };
}

/** The trained model's results on a recording, computed in TypeScript on windows cut as the agent cuts them. */
function results(trained: TrainedModel, segment: TrainingSegment): WindowResult[] {
  const manifest = parseManifest({ ...trained.manifest, onnx: { file: 'model.onnx', sha256: '0'.repeat(64) } }, 'trained');
  const out: WindowResult[] = [];
  cutWindows(segment, manifest, (batch) => {
    const { scores, contributions } = scoreWindows(trained.scorer, batch.input, batch.count, manifest.windowLength);
    for (let w = 0; w < batch.count; w++) {
      const score = scores[w]!;
      const perTag = Object.fromEntries(TAGS.map((tag, k) => [tag, contributions[w * TAGS.length + k]!]));
      out.push({ model: manifest.name, version: manifest.version, shadow: false, start: batch.starts[w]!, end: batch.ends[w]!, status: 'scored', score, level: levelOf(score, manifest.thresholds), contributions: perTag, quality: { filledShare: 0, badShare: 0 } });
    }
  });
  return out;
}

function episodesOf(manifest: Pick<ModelManifest, 'name' | 'version' | 'tags' | 'thresholds' | 'episodes'>, windows: WindowResult[]) {
  const tracker = new EpisodeTracker({ agentId: 'test', model: manifest.name, params: manifest.episodes, snapshot: () => [] });
  const latest = new Map<string, { start: number; end: number | null; topTags: Array<{ tag: string }> }>();
  for (const e of tracker.onResults(windows, manifest).episodes) latest.set(e.id, e);
  return [...latest.values()];
}

describe('trainModel on a synthetic plant with a known anomaly', () => {
  const trained = trainModel(request([plant(3600, 0, 1)]));
  const test = plant(1800, 3600, 2, { from: 3600 + 900, to: 3600 + 1200, offset: 0.1 });
  const scored = results(trained, test);
  const anomalyStart = T0 + (3600 + 900) * 1000;
  const anomalyEnd = T0 + (3600 + 1200) * 1000;

  it('raises the alarm inside the anomalous stretch and nowhere else', () => {
    const { alarm } = trained.manifest.thresholds;
    const outside = scored.filter((r) => r.end <= anomalyStart || r.start >= anomalyEnd);
    const inside = scored.filter((r) => r.start >= anomalyStart && r.end <= anomalyEnd);
    expect(outside.length).toBeGreaterThan(200);
    expect(inside.length).toBeGreaterThan(40);
    expect(Math.max(...outside.map((r) => r.score!))).toBeLessThan(alarm);
    expect(inside.filter((r) => r.score! >= alarm).length / inside.length).toBeGreaterThan(0.9);
    // Typical normal windows score about 1: the scale the thresholds are in.
    const median = outside.map((r) => r.score!).sort((a, b) => a - b)[Math.floor(outside.length / 2)]!;
    expect(median).toBeGreaterThan(0.2);
    expect(median).toBeLessThan(3);
  });

  it('makes one episode over the anomaly, led by the tag that broke', () => {
    const episodes = episodesOf(trained.manifest, scored);
    expect(episodes).toHaveLength(1);
    const [episode] = episodes;
    expect(episode!.start).toBeGreaterThanOrEqual(anomalyStart - 30_000);
    expect(episode!.start).toBeLessThan(anomalyStart + 60_000);
    expect(episode!.end).not.toBeNull();
    expect(episode!.end!).toBeGreaterThan(anomalyEnd - 60_000);
    expect(episode!.end!).toBeLessThanOrEqual(anomalyEnd + 60_000);
    expect(episode!.topTags[0]?.tag).toBe('line1.pressure');
  });

  it('learns from more normal data: thresholds cover it, and its stretch no longer alarms', () => {
    // The "anomaly" answered as normal operation: a second recording where the pressure runs high.
    const answered = plant(1200, 8000, 3, { from: 8000, to: 9200, offset: 0.1 });
    const again = trainModel(request([plant(3600, 0, 1)], { version: '1.1.0', extraNormal: [{ ...answered, source: { kind: 'resolution', name: 'gw1:line1-pca:1773036000000' } }], parent: 'line1-pca@1.0.0', resolutionsUsed: 1 }));
    const before = results(trained, answered).filter((r) => r.level === 'alarm').length;
    const after = results(again, answered).filter((r) => r.level === 'alarm').length;
    expect(before).toBeGreaterThan(100);
    expect(after).toBe(0);
    expect(again.manifest.lineage).toMatchObject({ parent: 'line1-pca@1.0.0', resolutionsUsed: 1 });
    expect(again.manifest.lineage?.sources.map((s) => s.kind)).toEqual(['csv', 'resolution']);
  });
});

describe('trainModel: manifest and lineage', () => {
  const trained = trainModel(request([plant(1800, 0, 4)], { description: 'Line 1 pump' }));

  it('writes a manifest the agent accepts, with its tags, grid, outputs and calibrated thresholds', () => {
    const m = trained.manifest;
    expect(m).toMatchObject({ format: 'vigil-model/1', name: 'line1-pca', version: '1.0.0', description: 'Line 1 pump', tags: TAGS, samplePeriodMs: 1000, windowLength: 30, hop: 5 });
    expect(m.input).toEqual({ name: 'window', dtype: 'float32', layout: 'batch,time,tag' });
    expect(m.output).toEqual({ score: 'score', reduce: 'none', contributions: 'contrib' });
    expect(m.normalization).toBeUndefined();
    expect(m.thresholds.alarm).toBeGreaterThan(m.thresholds.warn);
    expect(m.thresholds.alarm).toBeGreaterThanOrEqual(trained.calibration.heldOutQuantileScore * trained.method.margin * 0.999);
  });

  it('names the data, its period, the method and its parameters', () => {
    const lineage = trained.manifest.lineage!;
    expect(lineage.trainedAt).toBe(new Date(T0).toISOString());
    expect(lineage.method).toBe('pca-t2q/1');
    expect(lineage.sources).toEqual([{ kind: 'csv', name: 'synthetic-0', from: T0 + 137, to: T0 + 1799 * 1000 + 137, windows: trained.windows.sufficient }]);
    expect(lineage.parameters).toMatchObject({ features: ['mean'], varianceShare: 0.95, margin: 2.5, quantile: 0.99, holdoutShare: 0.25, components: trained.scorer.pca.components });
    expect(lineage.parent).toBeUndefined();
    expect(lineage.resolutionsUsed).toBe(0);
  });

  it('calibrates on held-out windows, not on the ones it fitted', () => {
    const c = trained.calibration;
    expect(c.heldOutWindows).toBeGreaterThan(0);
    expect(c.fitWindows + c.heldOutWindows).toBeLessThan(trained.windows.sufficient);
    expect(c.heldOutWindows / trained.windows.sufficient).toBeCloseTo(0.25, 1);
  });
});

describe('trainModel: data it cannot learn from', () => {
  function expectInvalid(run: () => unknown, pattern: RegExp, code = 'VIGIL_TRAINING_DATA_INVALID'): void {
    let caught: unknown;
    try {
      run();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(VigilError);
    expect((caught as VigilError).code).toBe(code);
    expect((caught as VigilError).message).toMatch(pattern);
  }

  it('refuses a constant tag by name', () => {
    const segment = plant(1800, 0, 5);
    segment.series[3] = { ...segment.series[3]!, values: new Float64Array(1800).fill(61.5) };
    expectInvalid(() => trainModel(request([segment])), /"line1\.temp" never changes/);
  });

  it('refuses too few rows for the window', () => {
    expectInvalid(() => trainModel(request([plant(40, 0, 6)])), /too little data to fit and calibrate/);
  });

  it('refuses a window longer than the data', () => {
    expectInvalid(() => trainModel(request([plant(20, 0, 7)])), /no window of 30 samples/);
  });

  it('refuses a segment without one of the tags', () => {
    const segment = plant(600, 0, 8);
    segment.series.pop();
    expectInvalid(() => trainModel(request([segment])), /synthetic-0 has no data for "line1\.temp"/);
  });

  it('reports bad method parameters', () => {
    expectInvalid(() => trainModel(request([plant(600, 0, 9)], { method: { quantile: 2 } })), /quantile/, 'VIGIL_CONFIG_INVALID');
  });
});
