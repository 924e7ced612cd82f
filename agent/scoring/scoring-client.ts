import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { VigilError, type ErrorCode, ERROR_CODES } from '../../shared/errors.js';
import type { ModelManifest } from '../../shared/model-manifest.js';
import type { BatchMode } from './verify-model.js';
import type { ScoreReply, SerializedError, WorkerReply, WorkerRequest, WorkerSettings } from './scoring-worker.js';

export interface ScoringClientOptions {
  /** ONNX Runtime intra-op threads per session (default: ORT's own choice). */
  intraOpThreads?: number;
  /** Most windows in one `session.run` of a dynamic-batch model (the config's models.maxBatch). Default 256. */
  maxBatch?: number;
  /** Called once if the worker thread dies (not after `close()`); start a new client and load the models again. */
  onWorkerExit?: (error: VigilError) => void;
}

/** Free input buffers kept for reuse: enough for a few batches in flight over a few models. */
const MAX_SPARE_BUFFERS = 8;

type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void };

type RequestBody = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/**
 * The compiled worker sits next to this file as scoring-worker.js. Running from
 * the TypeScript sources (vitest, tsx) there is only the .ts, and a worker
 * thread ignores `--import tsx` in execArgv on Node 20, so a small bootstrap
 * registers tsx's ESM hooks inside the thread and then imports the .ts. tsx is
 * resolved from this package (its `import` build of tsx/esm/api), so the
 * working directory does not matter.
 */
function createWorker(settings: WorkerSettings): Worker {
  const compiled = new URL('./scoring-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(compiled))) return new Worker(compiled, { workerData: settings });
  const source = new URL('./scoring-worker.ts', import.meta.url).href;
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: settings });
}

function toError(error: SerializedError): Error {
  if (error.code !== undefined && error.code in ERROR_CODES) {
    return new VigilError(error.code as ErrorCode, error.message, error.details === undefined ? {} : { details: error.details });
  }
  return new Error(error.message);
}

/**
 * The main-thread side of the scoring worker. Every ONNX session lives in the
 * worker; `score` transfers the input buffer (no copy) and gets the scores
 * back the same way. Errors keep their VIGIL_ code, message and details.
 *
 * If the worker thread dies, every pending and later call rejects with
 * VIGIL_MODEL_FAULT (details.workerExit) and `onWorkerExit` is called: the
 * models it held are gone, so start a new client and load them again.
 */
export class ScoringClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private dead: VigilError | null = null;
  private closing = false;
  /**
   * Input buffers the worker handed back after scoring, for `inputArray` to
   * reuse: allocating a fresh ~100 KB buffer per batch (and freeing it in the
   * worker) cost more than running a tiny model. Bounded; oldest dropped.
   */
  private readonly spare: ArrayBuffer[] = [];
  /** Buffers handed out by `inputArray`, which `score` may transfer whole although the array is a shorter view. */
  private readonly lent = new WeakSet<ArrayBuffer>();

  private constructor(
    private readonly worker: Worker,
    private readonly onWorkerExit: ((error: VigilError) => void) | undefined,
  ) {
    worker.on('message', (reply: WorkerReply) => this.settle(reply));
    worker.on('error', (err) => this.die(`the scoring worker thread crashed: ${err.message}`, err));
    worker.on('exit', (code) => this.die(`the scoring worker thread exited with code ${code}`));
  }

  static async start(options: ScoringClientOptions = {}): Promise<ScoringClient> {
    const settings: WorkerSettings = {
      maxBatch: options.maxBatch ?? 256,
      ...(options.intraOpThreads === undefined ? {} : { intraOpThreads: options.intraOpThreads }),
    };
    const worker = createWorker(settings);
    // Ready means the worker module (and ONNX Runtime) loaded and listens: it says so with reply id 0.
    await new Promise<void>((resolve, reject) => {
      const fail = (what: string, cause?: Error): void => {
        worker.off('message', onMessage);
        reject(new VigilError('VIGIL_MODEL_FAULT', `The scoring worker thread could not start: ${what}`, cause ? { cause } : {}));
      };
      const onError = (err: Error): void => fail(err.message, err);
      const onExit = (code: number): void => fail(`it exited with code ${code}`);
      const onMessage = (reply: WorkerReply): void => {
        if (reply.id !== 0) return;
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        resolve();
      };
      worker.on('message', onMessage).once('error', onError).once('exit', onExit);
    });
    return new ScoringClient(worker, options.onWorkerExit);
  }

  /** Verifies and loads a model under `key` inside the worker (see openVerifiedModel); replaces a model loaded under the same key only on success. */
  async load(key: string, manifest: ModelManifest, onnxBytes: Uint8Array, agentTags?: string[]): Promise<{ batchMode: BatchMode }> {
    return (await this.call({ type: 'load', key, manifest, onnxBytes, ...(agentTags ? { agentTags } : {}) })) as { batchMode: BatchMode };
  }

  /**
   * Scores `count` windows already laid out as the model's input. The input's
   * buffer is transferred to the worker: it is unusable here afterwards. A
   * fault (run error, NaN/Infinity, wrong shape) rejects with VIGIL_MODEL_FAULT
   * and stops that model in the worker; other models keep working.
   */
  async score(key: string, input: Float32Array | Float64Array, count: number): Promise<ScoreReply> {
    const buffer = input.buffer as ArrayBuffer;
    if (input.byteOffset !== 0 || (input.byteLength !== buffer.byteLength && !this.lent.has(buffer))) {
      throw new Error('ScoringClient.score: the input must own its whole buffer, since the buffer is transferred');
    }
    this.lent.delete(buffer);
    return (await this.call({ type: 'score', key, input, count }, [buffer])) as ScoreReply;
  }

  /**
   * An array of `length` values to build a `score` input in (see
   * buildInputTensorData's `out`), on a buffer recycled from an earlier score
   * when one of a fitting size is free. Its contents are undefined: write
   * every value. Hand it to `score` (which transfers it) or drop it.
   */
  inputArray(dtype: 'float32' | 'float64', length: number): Float32Array | Float64Array {
    const bytes = length * (dtype === 'float32' ? 4 : 8);
    // The smallest free buffer that fits without wasting more than half of it.
    let best = -1;
    for (let i = 0; i < this.spare.length; i++) {
      const size = (this.spare[i] as ArrayBuffer).byteLength;
      if (size >= bytes && size <= 2 * bytes && (best < 0 || size < (this.spare[best] as ArrayBuffer).byteLength)) best = i;
    }
    const buffer = best >= 0 ? (this.spare.splice(best, 1)[0] as ArrayBuffer) : new ArrayBuffer(bytes);
    this.lent.add(buffer);
    return dtype === 'float32' ? new Float32Array(buffer, 0, length) : new Float64Array(buffer, 0, length);
  }

  async unload(key: string): Promise<void> {
    await this.call({ type: 'unload', key });
  }

  /**
   * Ends the worker gracefully: what is queued finishes, sessions are released,
   * the thread ends by itself. Only if it does not within `timeoutMs` is it
   * terminated (terminating a thread inside `session.run` aborts the process,
   * so that is the last resort). Safe to call twice.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.closing) return this.closed;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    if (this.dead) {
      this.closing = true;
      return;
    }
    const shutdown = this.call({ type: 'shutdown' }).catch(() => undefined);
    this.closing = true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    this.closed = Promise.race([shutdown.then(() => exited), timedOut]).then(async (outcome) => {
      clearTimeout(timer);
      if (outcome === 'timeout') await this.worker.terminate();
    });
    return this.closed;
  }

  /** Test hook: the worker thread exits with `code` between two requests, as if it had died. */
  simulateWorkerExit(code = 1): void {
    this.worker.postMessage({ id: this.nextId++, type: 'exit', code } satisfies WorkerRequest);
  }

  private closed: Promise<void> = Promise.resolve();

  private call(body: RequestBody, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.closing) return Promise.reject(new Error('ScoringClient is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...body, id } as WorkerRequest, transfer);
    });
  }

  private settle(reply: WorkerReply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if (reply.ok && reply.spare) {
      this.spare.push(reply.spare);
      if (this.spare.length > MAX_SPARE_BUFFERS) this.spare.shift();
    }
    // Node drains up to ~1000 queued port messages in one callback. If a
    // continuation posted the next batch right away, a fast worker's replies
    // would keep that callback going and starve timers and sockets (measured:
    // event-loop delay p99 ~100 ms when scoring flat out). Settling in
    // setImmediate returns to the event loop between batches.
    setImmediate(() => {
      if (reply.ok) pending.resolve(reply.result);
      else pending.reject(toError(reply.error));
    });
  }

  private die(what: string, cause?: Error): void {
    if (this.dead) return;
    const message = this.closing
      ? 'ScoringClient is closed'
      : `${what}. All models it held are gone: start a new ScoringClient and load them again.`;
    this.dead = new VigilError('VIGIL_MODEL_FAULT', message, { ...(cause ? { cause } : {}), details: { workerExit: true } });
    for (const pending of this.pending.values()) pending.reject(this.dead);
    this.pending.clear();
    if (!this.closing) this.onWorkerExit?.(this.dead);
  }
}
