import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScoringClient } from '../../agent/scoring/scoring-client.js';
import { scoreDueWindows } from '../../agent/scoring/score-windows.js';
import { buildInputTensorData } from '../../agent/scoring/build-input.js';
import type { DueWindows } from '../../agent/windows/due-windows.js';
import { VigilError } from '../../shared/errors.js';
import { levelOf, ModelManifestSchema, type ModelManifest } from '../../shared/model-manifest.js';

const dir = fileURLToPath(new URL('../fixtures/models/', import.meta.url));
const onnx = (file: string): Uint8Array => readFileSync(`${dir}${file}.onnx`);
const manifestOf = (file: string): ModelManifest => ModelManifestSchema.parse(JSON.parse(readFileSync(`${dir}${file}.manifest.json`, 'utf8')));
interface PcaParams { mean: number[]; std: number[]; P: number[][] }
const params = JSON.parse(readFileSync(`${dir}models.json`, 'utf8')) as Record<string, { params?: PcaParams }>;

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` windows of `length` × `tags` cells; window w is shifted by w/4, alternating in sign by tag, so scores spread over the levels. */
function dueWindows(count: number, length: number, tags: number, seed: number, insufficient: number[] = []): DueWindows {
  const next = random(seed);
  const values = new Float64Array(count * length * tags);
  for (let w = 0; w < count; w++) {
    for (let i = 0; i < length * tags; i++) values[w * length * tags + i] = next() * 2 - 1 + (w / 4) * (i % 2 === 0 ? 1 : -1);
  }
  const sufficient = new Uint8Array(count).fill(1);
  for (const w of insufficient) sufficient[w] = 0;
  return {
    count,
    length,
    tags,
    values,
    starts: Float64Array.from({ length: count }, (_, w) => 1_700_000_000_000 + w * 10_000),
    ends: Float64Array.from({ length: count }, (_, w) => 1_700_000_000_000 + w * 10_000 + length * 1000),
    filledShare: Float64Array.from({ length: count }, (_, w) => (insufficient.includes(w) ? 0.5 : 0.05)),
    badShare: Float64Array.from({ length: count }, () => 0.01),
    sufficient,
  };
}

/**
 * The reference PCA models, computed here from models.json alone: standardise
 * each tag, average over time, project with P onto the residual space
 * (P = I - V Vᵀ of the principal subspace, as given), score = |P z|², and each
 * tag's contribution is its squared residual component.
 */
function pcaReference(p: PcaParams, windows: DueWindows, w: number): { score: number; contrib: number[] } {
  const { length, tags } = windows;
  const z = new Array<number>(tags).fill(0);
  for (let t = 0; t < length; t++) {
    for (let k = 0; k < tags; k++) z[k]! += (windows.values[(w * length + t) * tags + k]! - p.mean[k]!) / p.std[k]! / length;
  }
  const r = p.P.map((row) => row.reduce((sum, v, j) => sum + v * z[j]!, 0));
  const contrib = r.map((v) => v * v);
  return { score: contrib.reduce((a, b) => a + b, 0), contrib };
}

function expectRelClose(actual: number, expected: number, rel = 1e-4): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.max(Math.abs(expected), 1e-6));
}

async function refusal(promise: Promise<unknown>): Promise<VigilError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VigilError);
  return err as VigilError;
}

let client: ScoringClient;
const pca = manifestOf('pca4x60');
const ae = manifestOf('ae_chfirst');
const fixed = manifestOf('fixed_batch1');

beforeAll(async () => {
  // maxBatch 4 so that a batch of 10 windows takes three runs.
  client = await ScoringClient.start({ maxBatch: 4, intraOpThreads: 1 });
});
afterAll(async () => {
  await client.close();
});

describe('scoring with the reference models in a worker thread', () => {
  it('pca4x60: scores and contributions equal the independent computation; insufficient windows carry no score', async () => {
    expect(await client.load('pca', pca, onnx('pca4x60'), [...pca.tags, 'other.tag'])).toEqual({ batchMode: 'dynamic' });
    const windows = dueWindows(10, 60, 4, 1, [3, 7]);
    const results = await scoreDueWindows(client, 'pca', pca, windows, { shadow: false });
    expect(results).toHaveLength(10);
    const levels = new Set<string>();
    for (let w = 0; w < 10; w++) {
      const r = results[w]!;
      expect(r).toMatchObject({ model: 'pca4x60', version: '1.0.0', shadow: false, start: windows.starts[w], end: windows.ends[w] });
      expect(r.quality).toEqual({ filledShare: windows.filledShare[w], badShare: windows.badShare[w] });
      if (w === 3 || w === 7) {
        expect(r).toMatchObject({ status: 'insufficient_data', score: null, level: null, contributions: null });
        continue;
      }
      const expected = pcaReference(params['pca4x60.onnx']!.params!, windows, w);
      expect(r.status).toBe('scored');
      expectRelClose(r.score!, expected.score);
      expect(r.level).toBe(levelOf(expected.score, pca.thresholds));
      levels.add(r.level!);
      expect(Object.keys(r.contributions!)).toEqual(pca.tags);
      pca.tags.forEach((tag, k) => expectRelClose(r.contributions![tag]!, expected.contrib[k]!));
    }
    // The data spread the windows over more than one level, so levels were really checked.
    expect(levels.size).toBeGreaterThan(1);
  });

  it('marks shadow results and scores nothing when every window is insufficient', async () => {
    const windows = dueWindows(3, 60, 4, 2, [0, 1, 2]);
    const results = await scoreDueWindows(client, 'pca', pca, windows, { shadow: true });
    expect(results.map((r) => [r.status, r.shadow])).toEqual([
      ['insufficient_data', true],
      ['insufficient_data', true],
      ['insufficient_data', true],
    ]);
  });

  it('ae_chfirst ([N,1], batch,tag,time): a batch scores the same as windows one by one, transposed by hand', async () => {
    expect(await client.load('ae', ae, onnx('ae_chfirst'))).toEqual({ batchMode: 'dynamic' });
    const windows = dueWindows(9, 32, 3, 3);
    const batched = await scoreDueWindows(client, 'ae', ae, windows, { shadow: false });
    let differs = false;
    for (let w = 0; w < 9; w++) {
      const channelsFirst = new Float32Array(3 * 32);
      const timeFirst = new Float32Array(3 * 32);
      for (let t = 0; t < 32; t++) {
        for (let k = 0; k < 3; k++) {
          const v = windows.values[(w * 32 + t) * 3 + k]!;
          channelsFirst[k * 32 + t] = v;
          timeFirst[t * 3 + k] = v;
        }
      }
      const one = await client.score('ae', channelsFirst, 1);
      expect(one.scores).toHaveLength(1);
      expect(one.contributions).toBeNull();
      expectRelClose(batched[w]!.score!, one.scores[0]!, 1e-6);
      expect(batched[w]!.contributions).toBeNull();
      // Feeding the cells without transposition gives another score: the layout matters and was applied.
      const wrong = await client.score('ae', timeFirst, 1);
      if (Math.abs(wrong.scores[0]! - one.scores[0]!) > 1e-6 * Math.abs(one.scores[0]!)) differs = true;
    }
    expect(differs).toBe(true);
  });

  it('fixed_batch1 is detected as single and scores N windows one run each, equal to the independent computation', async () => {
    expect(await client.load('fixed', fixed, onnx('fixed_batch1'))).toEqual({ batchMode: 'single' });
    const windows = dueWindows(6, 10, 2, 4);
    const results = await scoreDueWindows(client, 'fixed', fixed, windows, { shadow: false });
    for (let w = 0; w < 6; w++) {
      const expected = pcaReference(params['fixed_batch1.onnx']!.params!, windows, w);
      expectRelClose(results[w]!.score!, expected.score);
      expectRelClose(results[w]!.contributions!['fan.speed']!, expected.contrib[0]!);
      expectRelClose(results[w]!.contributions!['fan.current']!, expected.contrib[1]!);
    }
  });

  it('keys each contribution by its tag name exactly, whatever characters the name holds', async () => {
    // Tag names are free text in a manifest; the per-tag records are built by generated code, so quotes, a would-be
    // statement and __proto__ (which an object literal would take as the prototype) must all stay plain keys.
    const oddTags = ['__proto__', 'he said "stop"; }; throw 1; //\\\n'];
    const odd = { ...fixed, tags: oddTags };
    await client.load('odd', odd, onnx('fixed_batch1'));
    const windows = dueWindows(3, 10, 2, 11);
    const results = await scoreDueWindows(client, 'odd', odd, windows, { shadow: false });
    for (let w = 0; w < 3; w++) {
      const expected = pcaReference(params['fixed_batch1.onnx']!.params!, windows, w);
      const contributions = results[w]!.contributions!;
      expect(Object.keys(contributions)).toEqual(oddTags);
      expect(Object.getPrototypeOf(contributions)).toBe(Object.prototype);
      expectRelClose(Object.getOwnPropertyDescriptor(contributions, '__proto__')!.value as number, expected.contrib[0]!);
      expectRelClose(contributions[oddTags[1]!]!, expected.contrib[1]!);
    }
    await client.unload('odd');
  });

  it('builds later inputs in buffers the worker handed back, with the same results', async () => {
    const windows = dueWindows(9, 32, 3, 9);
    const first = await scoreDueWindows(client, 'ae', ae, windows, { shadow: false });
    // A smaller batch next: it reuses the 9-window buffer (dirty, larger than needed) and must still be right.
    const fewer = { ...windows, sufficient: Uint8Array.from([0, 1, 0, 1, 1, 0, 1, 0, 1]) };
    const again = await scoreDueWindows(client, 'ae', ae, fewer, { shadow: false });
    for (const w of [1, 3, 4, 6, 8]) expectRelClose(again[w]!.score!, first[w]!.score!, 1e-6);
    expect(again.filter((r) => r.status === 'scored')).toHaveLength(5);
    const recycled = client.inputArray('float32', 5 * 96);
    expect(recycled).toHaveLength(5 * 96);
    expect(recycled.buffer.byteLength).toBeGreaterThan(5 * 96 * 4);
    // A lent array is transferred whole although it views only part of its buffer.
    recycled.fill(0);
    expect((await client.score('ae', recycled, 5)).scores).toHaveLength(5);
    expect(recycled.buffer.byteLength).toBe(0);
  });

  it('transfers the input buffer to the worker instead of copying it', async () => {
    const input = buildInputTensorData(pca, dueWindows(2, 60, 4, 5), [0, 1]);
    const reply = await client.score('pca', input, 2);
    expect(reply.scores).toHaveLength(2);
    expect(reply.inferenceMs).toBeGreaterThan(0);
    expect(input.buffer.byteLength).toBe(0);
    // Scores and contributions come back as two views of one transferred buffer, contributions after the scores.
    expect(reply.contributions).toHaveLength(2 * 4);
    expect(reply.contributions!.buffer).toBe(reply.scores.buffer);
    expect(reply.contributions!.byteOffset).toBe(2 * 8);
  });
});

describe('refusing models that do not fit', () => {
  it('refuses a damaged ONNX file with the ONNX Runtime reason', async () => {
    const bytes = onnx('truncated');
    const { createHash } = await import('node:crypto');
    const manifest = { ...pca, onnx: { ...pca.onnx, sha256: createHash('sha256').update(bytes).digest('hex') } };
    const err = await refusal(client.load('broken', manifest, bytes));
    expect(err.code).toBe('VIGIL_MODEL_PACKAGE_INVALID');
    expect(err.message).toMatch(/ONNX file is damaged or unreadable/);
    expect(err.message).toMatch(/protobuf parsing failed/i);
  });

  it('refuses a checksum mismatch before parsing the file', async () => {
    const err = await refusal(client.load('pca', pca, onnx('ae_chfirst')));
    expect(err.code).toBe('VIGIL_MODEL_CHECKSUM_MISMATCH');
    expect(err.message).toContain(pca.onnx.sha256);
  });

  it('lists every disagreement in one refusal, and the model already loaded under the key keeps scoring', async () => {
    const wrongName = { ...pca, input: { ...pca.input, name: 'windows' }, output: { ...pca.output, contributions: 'contribution' } };
    const err = await refusal(client.load('pca', wrongName, onnx('pca4x60'), ['pump1.flow', 'pump1.pressure']));
    expect(err.code).toBe('VIGIL_MODEL_REFUSED');
    expect(err.details.reasons).toEqual([
      'input "windows": the model has no input of that name; its inputs are "window"',
      'output "contribution" (the manifest\'s contributions output): the model has no output of that name; its outputs are "score", "contrib"',
      'tags not configured on this agent: "pump1.temperature", "pump1.vibration"; add them to the agent\'s tags or fix the manifest\'s tag names',
    ]);
    expect(err.message).toContain('The active version, if any, keeps scoring');

    const wrongShape = { ...pca, tags: ['a', 'b', 'c'], input: { ...pca.input, layout: 'batch,tag,time' as const } };
    const shapeErr = await refusal(client.load('pca', wrongShape, onnx('pca4x60')));
    expect(shapeErr.details.reasons).toEqual([
      'input "window": the manifest says 3 tags but the model\'s tag axis (dim 1) is 60',
      'input "window": the manifest says windowLength 60 but the model\'s time axis (dim 2) is 4',
      'output "contrib": the manifest has 3 tags but the model gives 4 contributions per window',
    ]);

    const wrongLayout = { ...ae, input: { ...ae.input, layout: 'batch,time,tag' as const } };
    const layoutErr = await refusal(client.load('ae2', wrongLayout, onnx('ae_chfirst')));
    expect(layoutErr.details.reasons).toContain(
      'input "x": the model\'s shape [N,3,32] fits layout batch,tag,time, not batch,time,tag: check the manifest\'s input.layout',
    );

    const missingOutput = { ...ae, output: { score: 'score', reduce: 'none' as const } };
    const outErr = await refusal(client.load('ae2', missingOutput, onnx('ae_chfirst')));
    expect(outErr.details.reasons).toEqual(['output "score" (the manifest\'s score output): the model has no output of that name; its outputs are "recon_error"']);

    const still = await scoreDueWindows(client, 'pca', pca, dueWindows(2, 60, 4, 6), { shadow: false });
    expect(still.map((r) => r.status)).toEqual(['scored', 'scored']);
  });
});

describe('faults at run time', () => {
  it('stops a model whose output turns NaN, names it, and keeps scoring the others', async () => {
    await client.load('pca-faulty', pca, onnx('pca4x60'));
    // 1e38 is a valid float32, but standardising and squaring it overflows inside the model: NaN out.
    const windows = dueWindows(6, 60, 4, 7);
    windows.values.fill(1e38, 5 * 240, 6 * 240);
    const err = await refusal(scoreDueWindows(client, 'pca-faulty', pca, windows, { shadow: false }));
    expect(err.code).toBe('VIGIL_MODEL_FAULT');
    expect(err.message).toContain('Model pca-faulty faulted while scoring and was stopped');
    expect(err.message).toContain('output "score" is NaN or infinite for 1 of 2 windows (first: window 5, value NaN)');
    expect(err.details).toMatchObject({ model: 'pca-faulty' });

    const again = await refusal(client.score('pca-faulty', new Float32Array(240), 1));
    expect(again.code).toBe('VIGIL_MODEL_FAULT');
    expect(again.message).toMatch(/was stopped after a fault/);

    const others = await scoreDueWindows(client, 'pca', pca, dueWindows(3, 60, 4, 8), { shadow: false });
    expect(others.every((r) => r.status === 'scored' && Number.isFinite(r.score))).toBe(true);
    // Loading it again brings it back.
    await client.load('pca-faulty', pca, onnx('pca4x60'));
    expect((await client.score('pca-faulty', new Float32Array(240), 1)).scores).toHaveLength(1);
  });

  it('closes gracefully while batches are scoring: queued work finishes, the process survives', async () => {
    const busy = await ScoringClient.start({ maxBatch: 256 });
    await busy.load('pca', pca, onnx('pca4x60'));
    const scoring = Array.from({ length: 8 }, () => busy.score('pca', new Float32Array(240 * 2048), 2048));
    await busy.close();
    const outcomes = await Promise.allSettled(scoring);
    expect(outcomes.every((o) => o.status === 'fulfilled')).toBe(true);
    await expect(busy.score('pca', new Float32Array(240), 1)).rejects.toThrow('ScoringClient is closed');
  });

  it('rejects pending calls with a clear error when the worker thread dies, and a new client works', async () => {
    const exits: VigilError[] = [];
    const doomed = await ScoringClient.start({ onWorkerExit: (e) => exits.push(e) });
    await doomed.load('pca', pca, onnx('pca4x60'));
    // The thread ends between two requests, as after a native crash; the score queued behind it never runs.
    // (Terminating a worker from outside while it is inside session.run aborts the whole process.)
    doomed.simulateWorkerExit(1);
    const pending = doomed.score('pca', new Float32Array(240 * 64), 64);
    const err = await refusal(pending);
    expect(err.code).toBe('VIGIL_MODEL_FAULT');
    expect(err.message).toMatch(/the scoring worker thread exited with code 1\. All models it held are gone: start a new ScoringClient/);
    expect(exits).toHaveLength(1);
    expect((await refusal(doomed.load('pca', pca, onnx('pca4x60')))).message).toBe(err.message);
    await doomed.close();

    const fresh = await ScoringClient.start();
    await fresh.load('pca', pca, onnx('pca4x60'));
    expect((await fresh.score('pca', new Float32Array(240), 1)).scores).toHaveLength(1);
    await fresh.close();
    await expect(fresh.score('pca', new Float32Array(240), 1)).rejects.toThrow('ScoringClient is closed');
  });
});
