import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import type { InferenceSession } from 'onnxruntime-node';
import { VigilError } from '../../shared/errors.js';
import type { ModelManifest } from '../../shared/model-manifest.js';
import { openVerifiedModel, readRunOutputs, type VerifiedModel } from './verify-model.js';

/**
 * The scoring worker thread: holds the ONNX sessions and runs them, so a
 * synchronous `session.run` never blocks the agent's event loop. One message
 * in, one reply out, matched by id (id 0 announces that the worker is ready). A model that faults is released and
 * remembered as stopped; the other models keep scoring.
 */

export interface WorkerSettings {
  intraOpThreads?: number;
  maxBatch: number;
}

export type WorkerRequest =
  | { id: number; type: 'load'; key: string; manifest: ModelManifest; onnxBytes: Uint8Array; agentTags?: string[] }
  | { id: number; type: 'score'; key: string; input: Float32Array | Float64Array; count: number }
  | { id: number; type: 'unload'; key: string }
  /** Finish what is queued, release every session, then let the thread end. */
  | { id: number; type: 'shutdown' }
  /** Ends the thread with this exit code between two requests (tests simulate a dead worker with it). */
  | { id: number; type: 'exit'; code: number };

export interface SerializedError {
  code?: string;
  message: string;
  details?: Record<string, unknown>;
}

/**
 * `spare`: a score's input buffer, handed back (transferred) once the runs
 * are done with it, so the client can build the next input in it instead of
 * allocating (and this thread freeing) one per batch.
 */
export type WorkerReply =
  | { id: number; ok: true; result: unknown; spare?: ArrayBuffer }
  | { id: number; ok: false; error: SerializedError };

/**
 * `scores` (one per window) and `contributions` (tags per window) are views
 * of one buffer: one allocation and one transfer per batch instead of two.
 */
export interface ScoreReply {
  scores: Float64Array;
  contributions: Float64Array | null;
  inferenceMs: number;
}

const settings = workerData as WorkerSettings;
const models = new Map<string, VerifiedModel>();
/** Why a model was stopped, until it is unloaded or loaded again. */
const stopped = new Map<string, string>();

async function load(key: string, manifest: ModelManifest, onnxBytes: Uint8Array, agentTags?: string[]): Promise<{ batchMode: VerifiedModel['batchMode'] }> {
  const options = {
    ...(agentTags ? { agentTags: new Set(agentTags) } : {}),
    ...(settings.intraOpThreads === undefined ? {} : { intraOpThreads: settings.intraOpThreads }),
  };
  const model = await openVerifiedModel(manifest, onnxBytes, options);
  const previous = models.get(key);
  models.set(key, model);
  stopped.delete(key);
  await previous?.release();
  return { batchMode: model.batchMode };
}

function fault(key: string, problem: string, cause?: unknown): VigilError {
  return new VigilError('VIGIL_MODEL_FAULT', `Model ${key} faulted while scoring and was stopped: ${problem}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { model: key, problem },
  });
}

async function stop(key: string, model: VerifiedModel, problem: string): Promise<void> {
  models.delete(key);
  stopped.set(key, problem);
  await model.release().catch(() => undefined);
}

async function score(key: string, input: Float32Array | Float64Array, count: number): Promise<ScoreReply> {
  const model = models.get(key);
  if (!model) {
    const why = stopped.get(key);
    if (why !== undefined) throw new VigilError('VIGIL_MODEL_FAULT', `Model ${key} was stopped after a fault (${why}); load a version again to score with it.`, { details: { model: key, problem: why } });
    throw new VigilError('VIGIL_MODEL_FAULT', `Model ${key} is not loaded in the scoring worker.`, { details: { model: key } });
  }
  const { manifest, session, batchMode, inputDims } = model;
  const perWindow = inputDims[0] * inputDims[1];
  if (input.length !== count * perWindow) {
    throw new Error(`score(${key}): input has ${input.length} values, expected ${count} windows × ${perWindow}`);
  }
  const tags = manifest.tags.length;
  const hasContributions = manifest.output.contributions !== undefined;
  const outputs = new Float64Array(count * (hasContributions ? 1 + tags : 1));
  const scores = outputs.subarray(0, count);
  const contributions = hasContributions ? outputs.subarray(count) : null;
  const chunk = batchMode === 'single' ? 1 : settings.maxBatch;
  let inferenceMs = 0;

  for (let first = 0; first < count; first += chunk) {
    const n = Math.min(chunk, count - first);
    // subarray is a view: the chunk is fed to ORT without a copy.
    const data = input.subarray(first * perWindow, (first + n) * perWindow);
    const feeds = { [manifest.input.name]: new ort.Tensor(manifest.input.dtype, data, [n, inputDims[0], inputDims[1]]) };
    let result: InferenceSession.ReturnType;
    const t0 = performance.now();
    try {
      result = await session.run(feeds);
    } catch (err) {
      const problem = `session.run failed on windows ${first}..${first + n - 1}: ${err instanceof Error ? err.message : String(err)}`;
      await stop(key, model, problem);
      throw fault(key, problem, err);
    }
    inferenceMs += performance.now() - t0;
    const read = readRunOutputs(manifest, result, n, first);
    if (read.problem !== null || read.outputs === null) {
      const problem = `${read.problem ?? 'no outputs'} (in the run of windows ${first}..${first + n - 1} of a batch of ${count})`;
      await stop(key, model, problem);
      throw fault(key, problem);
    }
    scores.set(read.outputs.scores, first);
    if (contributions && read.outputs.contributions) contributions.set(read.outputs.contributions, first * tags);
  }
  return { scores, contributions, inferenceMs };
}

async function unload(key: string): Promise<void> {
  const model = models.get(key);
  models.delete(key);
  stopped.delete(key);
  await model?.release();
}

function serialize(err: unknown): SerializedError {
  if (err instanceof VigilError) return { code: err.code, message: err.message, details: err.details };
  return { message: err instanceof Error ? err.message : String(err) };
}

async function handle(request: WorkerRequest): Promise<{ result: unknown; transfer: ArrayBuffer[]; spare?: ArrayBuffer }> {
  switch (request.type) {
    case 'load':
      return { result: await load(request.key, request.manifest, request.onnxBytes, request.agentTags), transfer: [] };
    case 'score': {
      const reply = await score(request.key, request.input, request.count);
      // ONNX Runtime read the input in place during the (synchronous) runs and keeps no reference: the buffer can go back.
      const spare = request.input.buffer as ArrayBuffer;
      // scores and contributions share one buffer (see ScoreReply).
      return { result: reply, transfer: [reply.scores.buffer as ArrayBuffer, spare], spare };
    }
    case 'unload':
      await unload(request.key);
      return { result: null, transfer: [] };
    case 'shutdown':
      for (const key of [...models.keys()]) await unload(key);
      return { result: null, transfer: [] };
    case 'exit':
      process.exit(request.code);
  }
}

const port = parentPort;
if (!port) throw new Error('scoring-worker.ts runs as a worker thread; start it through ScoringClient.start()');
// Requests run one after another: a load that replaces a model must never
// release a session between two chunks of a score that still uses it.
let queue: Promise<unknown> = Promise.resolve();
port.on('message', (request: WorkerRequest) => {
  // Every request gets a reply, even when posting the result fails, so no call hangs.
  queue = queue
    .then(() => handle(request))
    .then(({ result, transfer, spare }) => {
      port.postMessage((spare ? { id: request.id, ok: true, result, spare } : { id: request.id, ok: true, result }) satisfies WorkerReply, transfer);
      // Closing the port after the last reply lets the thread end by itself:
      // never terminate() it from outside, which aborts the whole process when
      // it lands inside session.run (a native call).
      if (request.type === 'shutdown') port.close();
    })
    .catch((err: unknown) => port.postMessage({ id: request.id, ok: false, error: serialize(err) } satisfies WorkerReply));
});
port.postMessage({ id: 0, ok: true, result: 'ready' } satisfies WorkerReply);
