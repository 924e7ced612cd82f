import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import type { InferenceSession } from 'onnxruntime-node';
import { VigilError } from '../../shared/errors.js';
import { modelKey, type ModelManifest } from '../../shared/model-manifest.js';

/** How windows go through a model: many per run, or one per run (batch axis fixed to 1). */
export type BatchMode = 'dynamic' | 'single';

export interface MetadataVerdict {
  /** Plain-words disagreements between the manifest and the ONNX file; empty when they agree. */
  reasons: string[];
  /** Null when the batch axis cannot be used (fixed to a value other than 1, or no input found). */
  batchMode: BatchMode | null;
}

/** A model whose ONNX file agrees with its manifest and passed a dry run. */
export interface VerifiedModel {
  manifest: ModelManifest;
  session: InferenceSession;
  batchMode: BatchMode;
  /** Dims of one window after the batch axis, in the manifest's layout: [time, tag] or [tag, time]. */
  inputDims: readonly [number, number];
  release(): Promise<void>;
}

export interface OpenModelOptions {
  /** Tag names the agent has configured; every manifest tag missing from it is refused by name. */
  agentTags?: ReadonlySet<string>;
  /** ONNX Runtime intra-op threads for this session (default: ORT's own choice). */
  intraOpThreads?: number;
}

/**
 * Opens an ONNX model only if everything agrees: the checksum, the file itself
 * (ORT must parse it), its inputs and outputs against the manifest, the agent's
 * tags, and a dry run on a zero window. Every disagreement is collected into one
 * VIGIL_MODEL_REFUSED so the author fixes them all in one go. Nothing here
 * touches a model that is already active: the caller swaps only on success.
 */
export async function openVerifiedModel(manifest: ModelManifest, onnxBytes: Uint8Array, options: OpenModelOptions = {}): Promise<VerifiedModel> {
  const key = modelKey(manifest);
  const digest = createHash('sha256').update(onnxBytes).digest('hex');
  if (digest !== manifest.onnx.sha256) {
    throw new VigilError(
      'VIGIL_MODEL_CHECKSUM_MISMATCH',
      `Model ${key}: the ONNX file's sha256 is ${digest} but the manifest says ${manifest.onnx.sha256}. The file was changed or damaged after packing; rebuild the package with \`vigil model pack\`.`,
      { details: { model: key, expected: manifest.onnx.sha256, actual: digest } },
    );
  }

  let session: InferenceSession;
  try {
    const sessionOptions: InferenceSession.SessionOptions = options.intraOpThreads === undefined ? {} : { intraOpNumThreads: options.intraOpThreads };
    session = await ort.InferenceSession.create(onnxBytes, sessionOptions);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new VigilError(
      'VIGIL_MODEL_PACKAGE_INVALID',
      `Model ${key}: the ONNX file is damaged or unreadable (ONNX Runtime: ${reason}). Export the model again and rebuild the package.`,
      { cause: err, details: { model: key, ortMessage: reason } },
    );
  }

  try {
    const verdict = inspectModelMetadata(manifest, session.inputMetadata, session.outputMetadata);
    const reasons = [...verdict.reasons];
    if (options.agentTags) {
      const missing = manifest.tags.filter((t) => !options.agentTags?.has(t));
      if (missing.length > 0) {
        reasons.push(`tags not configured on this agent: ${missing.map((t) => `"${t}"`).join(', ')}; add them to the agent's tags or fix the manifest's tag names`);
      }
    }
    const inputDims: readonly [number, number] =
      manifest.input.layout === 'batch,time,tag' ? [manifest.windowLength, manifest.tags.length] : [manifest.tags.length, manifest.windowLength];
    // A dry run only means something once the declared shapes agree.
    if (verdict.reasons.length === 0 && verdict.batchMode !== null) {
      const dry = await dryRunReasons(manifest, session, verdict.batchMode, inputDims);
      reasons.push(...dry);
    }
    if (reasons.length > 0 || verdict.batchMode === null) {
      throw new VigilError(
        'VIGIL_MODEL_REFUSED',
        `Model ${key} is refused: ${reasons.join('; ')}. The active version, if any, keeps scoring.`,
        { details: { model: key, reasons } },
      );
    }
    return { manifest, session, batchMode: verdict.batchMode, inputDims, release: () => session.release() };
  } catch (err) {
    await session.release().catch(() => undefined);
    throw err;
  }
}

/**
 * Runs zero windows through the model: batch 1, and for a dynamic batch also 2
 * windows, since some exports declare a dynamic axis but reshape to a fixed one.
 */
async function dryRunReasons(manifest: ModelManifest, session: InferenceSession, batchMode: BatchMode, inputDims: readonly [number, number]): Promise<string[]> {
  const batches = batchMode === 'dynamic' ? [1, 2] : [1];
  for (const n of batches) {
    const size = n * inputDims[0] * inputDims[1];
    const data = manifest.input.dtype === 'float32' ? new Float32Array(size) : new Float64Array(size);
    const feeds = { [manifest.input.name]: new ort.Tensor(manifest.input.dtype, data, [n, ...inputDims]) };
    let result: InferenceSession.ReturnType;
    try {
      result = await session.run(feeds);
    } catch (err) {
      const what = n === 1 ? 'a dry run on a zero window' : `a dry run on ${n} zero windows (the batch axis is declared dynamic)`;
      return [`${what} failed: ${err instanceof Error ? err.message : String(err)}`];
    }
    const { problem } = readRunOutputs(manifest, result, n);
    if (problem !== null) return [`a dry run on ${n === 1 ? 'a zero window' : `${n} zero windows`}: ${problem}`];
  }
  return [];
}

/** The scores and contributions of one run, checked for shape and finite values. */
export interface RunOutputs {
  scores: ArrayLike<number>;
  contributions: ArrayLike<number> | null;
}

/**
 * Reads what one `session.run` of `n` windows returned: the outputs when scores
 * (and contributions) have the declared shape and only finite values, else the
 * problem in plain words. Used by the dry run and by every scoring run;
 * `windowOffset` numbers the windows of a chunk as in the whole batch.
 */
export function readRunOutputs(manifest: ModelManifest, result: InferenceSession.ReturnType, n: number, windowOffset = 0): { problem: string | null; outputs: RunOutputs | null } {
  const { score, reduce, contributions } = manifest.output;
  const scoreTensor = result[score];
  if (!scoreTensor) return { problem: `output "${score}" is missing from the run's results`, outputs: null };
  const want = reduce === 'squeeze' ? [n, 1] : [n];
  if (!sameDims(scoreTensor.dims, want)) {
    return { problem: `output "${score}" has shape [${scoreTensor.dims.join(',')}] for ${n} windows, expected [${want.join(',')}]`, outputs: null };
  }
  const scores = scoreTensor.data as ArrayLike<number>;
  const bad = countNonFinite(scores);
  if (bad.count > 0) {
    return { problem: `output "${score}" is NaN or infinite for ${bad.count} of ${n} windows (first: window ${windowOffset + bad.first}, value ${scores[bad.first]})`, outputs: null };
  }
  if (contributions === undefined) return { problem: null, outputs: { scores, contributions: null } };
  const contribTensor = result[contributions];
  if (!contribTensor) return { problem: `output "${contributions}" is missing from the run's results`, outputs: null };
  const wantContrib = [n, manifest.tags.length];
  if (!sameDims(contribTensor.dims, wantContrib)) {
    return { problem: `output "${contributions}" has shape [${contribTensor.dims.join(',')}] for ${n} windows, expected [${wantContrib.join(',')}]`, outputs: null };
  }
  const contribs = contribTensor.data as ArrayLike<number>;
  const badContrib = countNonFinite(contribs);
  if (badContrib.count > 0) {
    const window = windowOffset + Math.floor(badContrib.first / manifest.tags.length);
    return { problem: `output "${contributions}" has ${badContrib.count} NaN or infinite values (first: window ${window}, tag "${manifest.tags[badContrib.first % manifest.tags.length]}")`, outputs: null };
  }
  return { problem: null, outputs: { scores, contributions: contribs } };
}

function sameDims(dims: readonly number[], want: readonly number[]): boolean {
  return dims.length === want.length && dims.every((d, i) => d === want[i]);
}

function countNonFinite(values: ArrayLike<number>): { count: number; first: number } {
  let count = 0;
  let first = -1;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      if (count === 0) first = i;
      count++;
    }
  }
  return { count, first };
}

type Dim = number | string;


/** A symbolic name, -1 or 0 all mean "any size at run time". */
function fixedSize(dim: Dim | undefined): number | null {
  return typeof dim === 'number' && dim > 0 ? dim : null;
}

function shapeText(shape: readonly Dim[]): string {
  return `[${shape.join(',')}]`;
}

function namesText(values: readonly InferenceSession.ValueMetadata[]): string {
  return values.length === 0 ? 'none' : values.map((v) => `"${v.name}"`).join(', ');
}

/**
 * Compares the manifest with the ONNX file's declared inputs and outputs, and
 * says in plain words everything that disagrees, so one refusal lists all of
 * it. Pure: `openVerifiedModel` adds the checksum, tag and dry-run checks.
 */
export function inspectModelMetadata(
  manifest: ModelManifest,
  inputs: readonly InferenceSession.ValueMetadata[],
  outputs: readonly InferenceSession.ValueMetadata[],
): MetadataVerdict {
  const reasons: string[] = [];
  const batchMode = checkInput(manifest, inputs, reasons);
  checkOutputMetadata(manifest, outputs, batchMode, reasons);
  return { reasons, batchMode };
}

/** The reasons only; see `inspectModelMetadata`. */
export function checkModelMetadata(
  manifest: ModelManifest,
  inputs: readonly InferenceSession.ValueMetadata[],
  outputs: readonly InferenceSession.ValueMetadata[],
): string[] {
  return inspectModelMetadata(manifest, inputs, outputs).reasons;
}

function checkInput(manifest: ModelManifest, inputs: readonly InferenceSession.ValueMetadata[], reasons: string[]): BatchMode | null {
  const { name, dtype, layout } = manifest.input;
  const label = `input "${name}"`;
  if (inputs.length > 1) {
    reasons.push(`the model has ${inputs.length} inputs (${namesText(inputs)}); Vigil feeds exactly one window tensor`);
  }
  const input = inputs.find((i) => i.name === name);
  if (!input) {
    reasons.push(`${label}: the model has no input of that name; its inputs are ${namesText(inputs)}`);
    return null;
  }
  if (!input.isTensor) {
    reasons.push(`${label}: the model's input is not a tensor`);
    return null;
  }
  if (input.type !== dtype) reasons.push(`${label}: the manifest says ${dtype} but the model takes ${input.type}`);
  const shape = input.shape;
  if (shape.length === 0) {
    reasons.push(`${label}: the model does not declare the input's shape, so it cannot be checked against the manifest (rank 3, ${layout})`);
    return null;
  }
  if (shape.length !== 3) {
    reasons.push(`${label}: the model's input has rank ${shape.length} ${shapeText(shape)}; Vigil feeds rank-3 windows (${layout})`);
    return null;
  }

  const batch = fixedSize(shape[0]);
  let batchMode: BatchMode | null = batch === null ? 'dynamic' : batch === 1 ? 'single' : null;
  if (batchMode === null) {
    reasons.push(`${label}: the batch axis (dim 0) is fixed to ${batch}; Vigil can feed a dynamic batch or a batch of 1, re-export the model with a dynamic batch axis`);
  }

  const tagAxis = layout === 'batch,time,tag' ? 2 : 1;
  const timeAxis = 3 - tagAxis;
  const tagDim = fixedSize(shape[tagAxis]);
  const timeDim = fixedSize(shape[timeAxis]);
  const tagWrong = tagDim !== null && tagDim !== manifest.tags.length;
  const timeWrong = timeDim !== null && timeDim !== manifest.windowLength;
  if (tagWrong) {
    reasons.push(`${label}: the manifest says ${manifest.tags.length} tags but the model's tag axis (dim ${tagAxis}) is ${tagDim}`);
  }
  if (timeWrong) {
    reasons.push(`${label}: the manifest says windowLength ${manifest.windowLength} but the model's time axis (dim ${timeAxis}) is ${timeDim}`);
  }
  if (tagWrong || timeWrong) {
    // The commonest cause is a layout written the wrong way round: say so.
    const swappedTag = fixedSize(shape[timeAxis]);
    const swappedTime = fixedSize(shape[tagAxis]);
    const otherLayout = layout === 'batch,time,tag' ? 'batch,tag,time' : 'batch,time,tag';
    if ((swappedTag === null || swappedTag === manifest.tags.length) && (swappedTime === null || swappedTime === manifest.windowLength)) {
      reasons.push(`${label}: the model's shape ${shapeText(shape)} fits layout ${otherLayout}, not ${layout}: check the manifest's input.layout`);
    }
  }
  return batchMode;
}

function checkOutputMetadata(manifest: ModelManifest, outputs: readonly InferenceSession.ValueMetadata[], batchMode: BatchMode | null, reasons: string[]): void {
  const { score, reduce, contributions } = manifest.output;
  const scoreOut = findTensorOutput(outputs, score, 'score', reasons);
  if (scoreOut) {
    const label = `output "${score}"`;
    const shape = scoreOut.shape;
    // An undeclared output shape is checked by the dry run and at every run instead.
    if (shape.length > 0) {
      const wantRank = reduce === 'squeeze' ? 2 : 1;
      if (shape.length !== wantRank) {
        const hint =
          shape.length === 2 && fixedSize(shape[1]) === 1 ? ': set output.reduce to "squeeze"' : shape.length === 1 && reduce === 'squeeze' ? ': set output.reduce to "none"' : '';
        reasons.push(`${label}: the manifest (reduce ${reduce}) expects ${wantRank === 1 ? '[N]' : '[N,1]'} but the model gives ${shapeText(shape)}${hint}`);
      } else {
        checkBatchDim(label, shape, batchMode, reasons);
        if (wantRank === 2 && fixedSize(shape[1]) !== null && shape[1] !== 1) {
          reasons.push(`${label}: reduce squeeze needs [N,1] but the model gives ${shapeText(shape)}`);
        }
      }
    }
  }

  if (contributions !== undefined) {
    const contribOut = findTensorOutput(outputs, contributions, 'contributions', reasons);
    if (contribOut && contribOut.shape.length > 0) {
      const label = `output "${contributions}"`;
      const shape = contribOut.shape;
      if (shape.length !== 2) {
        reasons.push(`${label}: contributions must be [N,${manifest.tags.length}] (one per tag) but the model gives ${shapeText(shape)}`);
      } else {
        checkBatchDim(label, shape, batchMode, reasons);
        const perTag = fixedSize(shape[1]);
        if (perTag !== null && perTag !== manifest.tags.length) {
          reasons.push(`${label}: the manifest has ${manifest.tags.length} tags but the model gives ${perTag} contributions per window`);
        }
      }
    }
  }
}

function findTensorOutput(
  outputs: readonly InferenceSession.ValueMetadata[],
  name: string,
  role: 'score' | 'contributions',
  reasons: string[],
): InferenceSession.TensorValueMetadata | null {
  const label = `output "${name}"`;
  const out = outputs.find((o) => o.name === name);
  if (!out) {
    reasons.push(`${label} (the manifest's ${role} output): the model has no output of that name; its outputs are ${namesText(outputs)}`);
    return null;
  }
  if (!out.isTensor) {
    reasons.push(`${label}: the model's ${role} output is not a tensor`);
    return null;
  }
  if (out.type !== 'float32' && out.type !== 'float64') {
    reasons.push(`${label}: the ${role} must be float32 or float64 but the model gives ${out.type}`);
  }
  return out;
}

function checkBatchDim(label: string, shape: readonly Dim[], batchMode: BatchMode | null, reasons: string[]): void {
  const batch = fixedSize(shape[0]);
  // Without a usable input batch axis there is nothing to compare with (already reported).
  if (batch === null || batchMode === null) return;
  const expectedBatch = batchMode === 'single' ? 1 : null;
  if (expectedBatch === null && batch !== 1) {
    reasons.push(`${label}: the batch axis (dim 0) is fixed to ${batch}, it must follow the input's batch`);
  } else if (expectedBatch === null) {
    reasons.push(`${label}: the batch axis (dim 0) is fixed to 1 while the input's batch is dynamic`);
  } else if (batch !== expectedBatch) {
    reasons.push(`${label}: the batch axis (dim 0) is ${batch} while the input's batch is ${expectedBatch}`);
  }
}
