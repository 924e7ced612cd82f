import onnxProto from 'onnx-proto';
import { VIGIL_VERSION } from '../../shared/version.js';
import { featureTag } from './window-features.js';
import type { WindowScorer } from './window-scorer.js';

const { onnx } = onnxProto;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;

/** Names the manifest refers to. */
export const ONNX_INPUT = 'window';
export const ONNX_SCORE = 'score';
export const ONNX_CONTRIBUTIONS = 'contrib';

/**
 * ONNX 1.10 (IR 8) with opset 13: every operator used here (Sub, Mul, Div,
 * ReduceMean, Sqrt, Concat, MatMul, Add, ReduceSum) is in ONNX Runtime's CPU
 * provider, and opset 13 still takes ReduceMean's axes as an attribute.
 */
const IR_VERSION = 8;
const OPSET = 13;

/**
 * Writes the scorer as an ONNX model that takes the raw window the agent cuts
 * (`window`, float32 [N, windowLength, tags], batch,time,tag) and returns
 * `score` [N] and `contrib` [N, tags] — the same numbers as `scoreWindows`:
 *
 *   z = (window − center) · (1 / scale)                       robust scaling
 *   features = concat(mean_t z, sqrt(mean_t (z − mean_t z)²))  per tag
 *   zf = (features − featureMean) / featureScale
 *   c = zf ⊙ (zf · t2Form) + (zf · residualMap)²               per feature
 *   contrib = c · tagSum;  score = Σ contrib
 *
 * Nothing is left to the manifest's normalisation: the model scales itself.
 */
export function exportOnnx(scorer: WindowScorer, windowLength: number, meta: { name: string; version: string }): Uint8Array {
  const tags = scorer.scaling.center.length;
  const width = scorer.features.length * tags;
  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [
    floats('center', [tags], scorer.scaling.center),
    floats('inverse_scale', [tags], scorer.scaling.scale.map((s) => 1 / s)),
    floats('feature_mean', [width], scorer.pca.featureMean),
    floats('feature_scale', [width], scorer.pca.featureScale),
    floats('t2_form', [width, width], scorer.pca.t2Form.flat()),
    floats('residual_map', [width, width], scorer.pca.residualMap.flat()),
    floats('tag_sum', [width, tags], tagSumMatrix(width, tags)),
    { name: 'sum_axes', dims: [1], dataType: onnx.TensorProto.DataType.INT64, int64Data: [1] },
  ];

  nodes.push(node('Sub', [ONNX_INPUT, 'center'], ['centered']), node('Mul', ['centered', 'inverse_scale'], ['z']));
  const parts = scorer.features.map((kind) => {
    if (kind === 'mean') {
      nodes.push(node('ReduceMean', ['z'], ['mean'], [axes(), keepdims(0)]));
      return 'mean';
    }
    nodes.push(
      node('ReduceMean', ['z'], ['mean_kept'], [axes(), keepdims(1)]),
      node('Sub', ['z', 'mean_kept'], ['deviation']),
      node('Mul', ['deviation', 'deviation'], ['squared_deviation']),
      node('ReduceMean', ['squared_deviation'], ['variance'], [axes(), keepdims(0)]),
      node('Sqrt', ['variance'], ['spread']),
    );
    return 'spread';
  });
  if (parts.length === 1) nodes.push(node('Identity', [parts[0]!], ['features']));
  else nodes.push(node('Concat', parts, ['features'], [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }]));

  nodes.push(
    node('Sub', ['features', 'feature_mean'], ['features_centered']),
    node('Div', ['features_centered', 'feature_scale'], ['zf']),
    node('MatMul', ['zf', 't2_form'], ['t2_direction']),
    node('Mul', ['zf', 't2_direction'], ['t2_terms']),
    node('MatMul', ['zf', 'residual_map'], ['residual']),
    node('Mul', ['residual', 'residual'], ['q_terms']),
    node('Add', ['t2_terms', 'q_terms'], ['feature_contrib']),
    node('MatMul', ['feature_contrib', 'tag_sum'], [ONNX_CONTRIBUTIONS]),
    node('ReduceSum', [ONNX_CONTRIBUTIONS, 'sum_axes'], [ONNX_SCORE], [keepdims(0)]),
  );

  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'vigil',
    producerVersion: VIGIL_VERSION,
    modelVersion: 1,
    docString: `${meta.name}@${meta.version}: PCA T² + Q of per-tag window ${scorer.features.join(' and ')}, trained by vigil model train`,
    graph: {
      name: meta.name,
      node: nodes,
      initializer: initializers,
      input: [tensorInfo(ONNX_INPUT, [{ dimParam: 'N' }, { dimValue: windowLength }, { dimValue: tags }])],
      output: [tensorInfo(ONNX_SCORE, [{ dimParam: 'N' }]), tensorInfo(ONNX_CONTRIBUTIONS, [{ dimParam: 'N' }, { dimValue: tags }])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** width × tags, 1 where feature j belongs to tag k: sums a tag's features. */
function tagSumMatrix(width: number, tags: number): number[] {
  const m = new Array<number>(width * tags).fill(0);
  for (let j = 0; j < width; j++) m[j * tags + featureTag(j, tags)] = 1;
  return m;
}

function floats(name: string, dims: number[], values: readonly number[]): TensorProto {
  const raw = new Float32Array(values);
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength) };
}

function node(opType: string, input: string[], output: string[], attribute: onnxProto.onnx.IAttributeProto[] = []): NodeProto {
  return { opType, input, output, name: output[0] ?? opType, attribute };
}

/** The time axis of [N, time, tag]. */
function axes(): onnxProto.onnx.IAttributeProto {
  return { name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [1] };
}

function keepdims(value: 0 | 1): onnxProto.onnx.IAttributeProto {
  return { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: value };
}

function tensorInfo(name: string, dim: onnxProto.onnx.TensorShapeProto.IDimension[]): onnxProto.onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim } } } };
}
