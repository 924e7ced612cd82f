import type { InferenceSession } from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ModelManifestSchema, type ModelManifest } from '../../shared/model-manifest.js';
import { checkModelMetadata, inspectModelMetadata } from '../../agent/scoring/verify-model.js';
import { pcaManifest } from '../helpers/pca-package.js';

type Meta = InferenceSession.ValueMetadata;
const tensor = (name: string, shape: Array<number | string>, type: InferenceSession.TensorValueMetadata['type'] = 'float32'): Meta => ({ name, isTensor: true, type, shape });

function manifest(over: Partial<Record<string, unknown>> = {}): ModelManifest {
  return ModelManifestSchema.parse({
    ...pcaManifest({ name: 'pca', version: '1.0.0', tags: ['a', 'b', 'c', 'd'], thresholds: { warn: 1, alarm: 2 }, onnx: { sha256: '0'.repeat(64) } }),
    ...over,
  });
}

const goodInputs = [tensor('window', ['N', 60, 4])];
const goodOutputs = [tensor('score', ['N']), tensor('contrib', ['N', 4])];

describe('checkModelMetadata', () => {
  it('accepts a model that agrees, with a dynamic batch', () => {
    expect(inspectModelMetadata(manifest(), goodInputs, goodOutputs)).toEqual({ reasons: [], batchMode: 'dynamic' });
    expect(inspectModelMetadata(manifest(), [tensor('window', [-1, 60, 4])], goodOutputs).batchMode).toBe('dynamic');
  });

  it('detects a batch axis fixed to 1 as single, and refuses other fixed batches', () => {
    const single = inspectModelMetadata(manifest(), [tensor('window', [1, 60, 4])], [tensor('score', [1]), tensor('contrib', [1, 4])]);
    expect(single).toEqual({ reasons: [], batchMode: 'single' });
    const fixed8 = inspectModelMetadata(manifest(), [tensor('window', [8, 60, 4])], goodOutputs);
    expect(fixed8.batchMode).toBeNull();
    expect(fixed8.reasons).toEqual([expect.stringContaining('the batch axis (dim 0) is fixed to 8')]);
  });

  it('names a missing input and lists the model inputs', () => {
    expect(checkModelMetadata(manifest({ input: { name: 'x', dtype: 'float32', layout: 'batch,time,tag' } }), goodInputs, goodOutputs)).toEqual([
      'input "x": the model has no input of that name; its inputs are "window"',
    ]);
  });

  it('reports dtype, rank and extra inputs', () => {
    expect(checkModelMetadata(manifest({ input: { name: 'window', dtype: 'float64', layout: 'batch,time,tag' } }), goodInputs, goodOutputs)).toEqual([
      'input "window": the manifest says float64 but the model takes float32',
    ]);
    expect(checkModelMetadata(manifest(), [tensor('window', ['N', 240])], goodOutputs)).toEqual([
      'input "window": the model\'s input has rank 2 [N,240]; Vigil feeds rank-3 windows (batch,time,tag)',
    ]);
    expect(checkModelMetadata(manifest(), [tensor('window', ['N', 60, 4]), tensor('mask', ['N'])], goodOutputs)[0]).toContain('the model has 2 inputs ("window", "mask")');
    expect(checkModelMetadata(manifest(), [tensor('window', [])], goodOutputs)[0]).toContain('does not declare the input\'s shape');
  });

  it('reports tag count and window length on the right axes, with a layout hint when they are swapped', () => {
    expect(checkModelMetadata(manifest(), [tensor('window', ['N', 60, 3])], [tensor('score', ['N']), tensor('contrib', ['N', 3])])).toEqual([
      'input "window": the manifest says 4 tags but the model\'s tag axis (dim 2) is 3',
      'output "contrib": the manifest has 4 tags but the model gives 3 contributions per window',
    ]);
    expect(checkModelMetadata(manifest({ windowLength: 30, hop: 5 }), goodInputs, goodOutputs)).toEqual([
      'input "window": the manifest says windowLength 30 but the model\'s time axis (dim 1) is 60',
    ]);
    const swapped = checkModelMetadata(manifest({ input: { name: 'window', dtype: 'float32', layout: 'batch,tag,time' } }), goodInputs, goodOutputs);
    expect(swapped).toEqual([
      'input "window": the manifest says 4 tags but the model\'s tag axis (dim 1) is 60',
      'input "window": the manifest says windowLength 60 but the model\'s time axis (dim 2) is 4',
      'input "window": the model\'s shape [N,60,4] fits layout batch,time,tag, not batch,tag,time: check the manifest\'s input.layout',
    ]);
  });

  it('accepts symbolic time and tag axes', () => {
    expect(checkModelMetadata(manifest(), [tensor('window', ['N', 'T', 'C'])], [tensor('score', ['N']), tensor('contrib', ['N', 'C'])])).toEqual([]);
  });

  it('reports missing outputs, their types and the score reduction', () => {
    expect(checkModelMetadata(manifest(), goodInputs, [tensor('contrib', ['N', 4])])).toEqual([
      'output "score" (the manifest\'s score output): the model has no output of that name; its outputs are "contrib"',
    ]);
    expect(checkModelMetadata(manifest(), goodInputs, [tensor('score', ['N'], 'int64'), tensor('contrib', ['N', 4])])).toEqual([
      'output "score": the score must be float32 or float64 but the model gives int64',
    ]);
    expect(checkModelMetadata(manifest(), goodInputs, [tensor('score', ['N', 1]), tensor('contrib', ['N', 4])])).toEqual([
      'output "score": the manifest (reduce none) expects [N] but the model gives [N,1]: set output.reduce to "squeeze"',
    ]);
    const squeeze = manifest({ output: { score: 'score', reduce: 'squeeze' } });
    expect(checkModelMetadata(squeeze, goodInputs, [tensor('score', ['N', 1])])).toEqual([]);
    expect(checkModelMetadata(squeeze, goodInputs, [tensor('score', ['N', 2])])).toEqual(['output "score": reduce squeeze needs [N,1] but the model gives [N,2]']);
    expect(checkModelMetadata(manifest(), goodInputs, [tensor('score', ['N']), tensor('contrib', ['N'])])).toEqual([
      'output "contrib": contributions must be [N,4] (one per tag) but the model gives [N]',
    ]);
  });

  it('checks that output batch axes follow the input', () => {
    expect(checkModelMetadata(manifest(), goodInputs, [tensor('score', [1]), tensor('contrib', ['N', 4])])).toEqual([
      'output "score": the batch axis (dim 0) is fixed to 1 while the input\'s batch is dynamic',
    ]);
    expect(checkModelMetadata(manifest(), [tensor('window', [1, 60, 4])], [tensor('score', [2]), tensor('contrib', [1, 4])])).toEqual([
      'output "score": the batch axis (dim 0) is 2 while the input\'s batch is 1',
    ]);
  });

  it('collects every disagreement at once', () => {
    const reasons = checkModelMetadata(
      manifest({ input: { name: 'window', dtype: 'float64', layout: 'batch,time,tag' }, output: { score: 'anomaly', contributions: 'contrib' } }),
      [tensor('window', [8, 60, 3])],
      [tensor('score', ['N']), tensor('contrib', ['N', 3])],
    );
    expect(reasons).toHaveLength(5);
  });
});
