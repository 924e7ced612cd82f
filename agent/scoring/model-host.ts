import { describeError, VigilError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { ModelManifest } from '../../shared/model-manifest.js';
import type { Sample } from '../../shared/sample.js';
import type { WindowResult } from '../../shared/window-result.js';
import { unloadAll, type ModelLoader } from '../models/deploy-package.js';
import type { ModelRegistry } from '../models/model-registry.js';
import { windowPrecisionFor, type DueWindows, type WindowSpec } from '../windows/due-windows.js';
import { ModelWindower } from '../windows/model-windower.js';
import { WindowRouter } from '../windows/window-router.js';
import { scoreDueWindows } from './score-windows.js';
import type { ScoringClient } from './scoring-client.js';

export interface ModelHostOptions {
  lateToleranceMs: number;
  /** Most windows in one `session.run` (config models.maxBatch, default 256); a batch taken from a backlog carries RUNS_PER_TAKE × this. */
  maxBatch?: number;
  log: Logger;
  /** Every result, in window order per model (shadow results marked). */
  onResults: (results: WindowResult[]) => void;
  /** Starts a fresh scoring worker after the old one died. */
  restartClient?: () => Promise<ScoringClient>;
}

/** Per model version: what /metrics and /models show. */
export interface VersionStats {
  key: string;
  scored: number;
  insufficient: number;
  shadowScored: number;
  batches: number;
  inferenceSeconds: number;
  faults: number;
  last: WindowResult | null;
}

interface LoadedModel {
  manifest: ModelManifest;
  onnxBytes: Uint8Array;
  agentTags: string[] | undefined;
  specKey: string;
}

interface HostedWindower {
  model: string;
  windower: ModelWindower;
}

/** Batches per window shape between being taken and their results: enough to keep the worker busy, bounded for memory and latency. */
const PIPELINE_DEPTH = 2;

/**
 * Most `session.run`s of maxBatch windows one batch carries when more windows
 * are due than one run takes (a backlog, a replay): the message to the worker,
 * its reply, the promises and the input transfer are paid once per this many
 * runs. Live operation is unaffected: a take returns whatever is due at once,
 * it never waits for a batch to fill.
 */
export const RUNS_PER_TAKE = 4;

interface ScoringOutcome {
  results: WindowResult[] | null;
  error: unknown;
  settledAt: number;
}

/** One version scoring one batch, queued in the worker. */
interface Attempt {
  key: string;
  version: string;
  shadow: boolean;
  /** The client it was sent to: after a worker restart, failures from the old one are not this version's fault. */
  client: ScoringClient;
  startedAt: number;
  outcome: Promise<ScoringOutcome>;
}

/** A batch of due windows with its versions decided and their scoring under way. */
interface Batch {
  model: string;
  specKey: string;
  due: DueWindows;
  shadow: Attempt | null;
  active: Attempt | null;
}

/**
 * Joins windows, the scoring worker and the version registry:
 *
 *   pipeline batch ─► WindowRouter ─► ModelWindower (one per model and window shape)
 *        │ due windows                          ▲
 *        ▼                                      │ versions with the same window shape share one
 *   registry.atWindowBoundary(model) ─► active (+ shadow) ─► ScoringClient (worker) ─► results
 *        ▲ fault: stop the version, roll back, score the same batch again with the one that took over
 *
 * Switching versions happens only between two batches of due windows, so with
 * versions of the same window shape no window is lost or scored twice.
 *
 * Pipelined, PIPELINE_DEPTH batches per window shape in flight: while the
 * worker runs batch N, batch N+1 is already taken, its versions decided (in
 * order, at its own boundary), its tensor built and queued behind N, so the
 * worker never waits for the main thread. Batches complete in order, so
 * results stay in window order. A batch queued behind one whose version
 * faulted fails too (the worker stopped that version, or died); it is scored
 * again by whichever version took over, without being reported as a second
 * fault.
 */
export class ModelHost implements ModelLoader {
  private readonly loaded = new Map<string, LoadedModel>();
  private readonly windowers = new Map<string, HostedWindower>();
  private readonly router = new WindowRouter();
  private readonly stats = new Map<string, VersionStats>();
  /**
   * Versions this host stopped after a fault and that were not loaded again:
   * a batch already queued for one of them fails as a consequence of that
   * fault, not as a new one.
   */
  private readonly stopped = new Set<string>();
  private draining: Promise<void> | undefined;
  private again = false;
  private closed = false;
  /** When the last batch's scoring settled: a pipelined batch's inference time starts no earlier. */
  private lastSettledAt = 0;

  constructor(
    private client: ScoringClient,
    private readonly registry: ModelRegistry,
    private readonly options: ModelHostOptions,
  ) {}

  /** ModelLoader: verify and load in the worker, then make sure its windows are being cut. */
  async load(key: string, manifest: ModelManifest, onnxBytes: Uint8Array, agentTags?: string[]): Promise<unknown> {
    const result = await this.client.load(key, manifest, onnxBytes, agentTags);
    const specKey = windowShapeKey(manifest, this.options.lateToleranceMs);
    this.loaded.set(key, { manifest, onnxBytes, agentTags, specKey });
    this.stopped.delete(key);
    const hosted = this.windowers.get(specKey);
    if (!hosted) {
      // Cut in this version's input layout and dtype, so its input is a plain copy; a version of the same window shape with the other layout gathers.
      const windower = new ModelWindower(windowSpecOf(manifest, this.options.lateToleranceMs), {
        maxWindowsPerTake: RUNS_PER_TAKE * (this.options.maxBatch ?? 256),
        layout: manifest.input.layout,
        precision: windowPrecisionFor(manifest),
      });
      this.windowers.set(specKey, { model: manifest.name, windower });
      this.router.add(specKey, windower);
    } else {
      this.fitPrecision(specKey, hosted.windower);
    }
    if (!this.stats.has(key)) this.stats.set(key, { key, scored: 0, insufficient: 0, shadowScored: 0, batches: 0, inferenceSeconds: 0, faults: 0, last: null });
    return result;
  }

  async unload(key: string): Promise<void> {
    this.loaded.delete(key);
    await this.client.unload(key);
    // A window shape no loaded version uses any more stops being cut.
    const used = new Set([...this.loaded.values()].map((m) => m.specKey));
    for (const [specKey, hosted] of [...this.windowers]) {
      if (used.has(specKey)) this.fitPrecision(specKey, hosted.windower);
      else {
        this.windowers.delete(specKey);
        this.router.remove(specKey);
      }
    }
  }

  /**
   * Versions sharing a windower get float32 windows only while every one of
   * them reads float32 unscaled (see WindowPrecision): a version that reads
   * float64 or scales switches it to float64 when it loads, before any batch
   * can be scheduled for it. Windows cut before that and not yet scored keep
   * the float32 rounding; said in the log.
   */
  private fitPrecision(specKey: string, windower: ModelWindower): void {
    const versions = [...this.loaded.entries()].filter(([, m]) => m.specKey === specKey);
    const precision = versions.every(([, m]) => windowPrecisionFor(m.manifest) === 'float32') ? 'float32' : 'float64';
    const alreadyCut = windower.setPrecision(precision);
    if (precision === 'float64' && alreadyCut > 0) {
      this.options.log.info(
        { versions: versions.map(([key]) => key), windows: alreadyCut },
        'windows are now cut in float64 for a version that reads float64 or scales its input; windows cut before it loaded reach it with float32 rounding',
      );
    }
  }

  /** Pipeline consumer: cut samples into windows, then score what became due. */
  readonly consume = (batch: readonly Sample[]): void => {
    if (this.windowers.size === 0) return;
    this.router.consume(batch);
    this.kick();
  };

  /** Resolves when every window due so far has been scored (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
    await this.client.close();
  }

  versionStats(): VersionStats[] {
    return [...this.stats.values()];
  }

  windowCounters(): Array<{ model: string; counters: ReturnType<ModelWindower['counters']> }> {
    return [...this.windowers.values()].map((w) => ({ model: w.model, counters: w.windower.counters() }));
  }

  loadedManifest(key: string): ModelManifest | undefined {
    return this.loaded.get(key)?.manifest;
  }

  private kick(): void {
    if (this.closed) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async drain(): Promise<void> {
    for (const [specKey, hosted] of [...this.windowers]) {
      const inFlight: Batch[] = [];
      for (;;) {
        while (inFlight.length < PIPELINE_DEPTH && this.windowers.has(specKey)) {
          const due = hosted.windower.takeDue();
          if (!due) break;
          inFlight.push(await this.submitBatch(hosted.model, specKey, due));
        }
        const next = inFlight.shift();
        if (!next) break;
        await this.completeBatch(next);
      }
    }
  }

  /** Decides who scores this batch (the registry's window boundary, in batch order) and queues its scoring in the worker. */
  private async submitBatch(model: string, specKey: string, due: DueWindows): Promise<Batch> {
    const scorers = this.registry.atWindowBoundary(model, due.starts[0]);
    await unloadAll(this, scorers.released, this.options.log);
    return {
      model,
      specKey,
      due,
      shadow: scorers.shadow ? this.startScoring(model, specKey, scorers.shadow, due, true) : null,
      active: scorers.active ? this.startScoring(model, specKey, scorers.active, due, false) : null,
    };
  }

  /** Emits a batch's results (shadow first); a fault hands the same batch to whichever version took over. */
  private async completeBatch(batch: Batch): Promise<void> {
    const { model, specKey, due } = batch;
    if (batch.shadow) await this.finishScoring(model, batch.shadow, due);
    let attempt = batch.active;
    // At most as many tries as versions that can fault, so this always ends.
    for (let tries = 0; attempt && tries < 4; tries++) {
      if ((await this.finishScoring(model, attempt, due)) !== 'fault') return;
      const active = this.registry.atWindowBoundary(model, due.starts[0]).active;
      attempt = active ? this.startScoring(model, specKey, active, due, false) : null;
    }
  }

  /**
   * Builds the input and queues it in the worker now; the outcome is awaited
   * in `finishScoring`. Never rejects: a batch waiting behind another must not
   * become an unhandled rejection. `key` is `name@version`, as the registry
   * names the scorers; null when that version does not score these windows.
   */
  private startScoring(model: string, specKey: string, key: string, due: DueWindows, shadow: boolean): Attempt | null {
    const loaded = this.loaded.get(key);
    // A version with another window shape scores the windows of its own windower.
    if (!loaded || loaded.specKey !== specKey) return null;
    const client = this.client;
    const outcome = scoreDueWindows(client, key, loaded.manifest, due, { shadow }).then(
      (results): ScoringOutcome => ({ results, error: null, settledAt: performance.now() }),
      (error: unknown): ScoringOutcome => ({ results: null, error, settledAt: performance.now() }),
    );
    return { key, version: key.slice(model.length + 1), shadow, client, startedAt: performance.now(), outcome };
  }

  private async finishScoring(model: string, attempt: Attempt, due: DueWindows): Promise<'ok' | 'fault'> {
    const { key, shadow } = attempt;
    const { results, error, settledAt } = await attempt.outcome;
    const stats = this.stats.get(key);
    if (results) {
      if (stats) {
        stats.batches++;
        // Time this batch had the pipeline to itself: from its start, or from the previous batch's end if it waited behind that one.
        stats.inferenceSeconds += (settledAt - Math.max(attempt.startedAt, this.lastSettledAt)) / 1000;
        for (const r of results) {
          if (r.status === 'insufficient_data') stats.insufficient++;
          else if (shadow) stats.shadowScored++;
          else stats.scored++;
        }
        stats.last = results[results.length - 1] ?? stats.last;
      }
      this.lastSettledAt = settledAt;
      this.options.onResults(results);
      return 'ok';
    }
    this.lastSettledAt = settledAt;
    // Queued behind a batch whose fault already stopped this version or killed the worker it was sent to: rescore, report nothing new.
    if (this.stopped.has(key) || attempt.client !== this.client) {
      this.options.log.debug({ model: key, shadow, windowStart: due.starts[0] }, 'batch queued behind a fault is scored again');
      return 'fault';
    }
    if (stats) stats.faults++;
    const reason = describeError(error);
    this.options.log.error({ model: key, shadow, code: error instanceof VigilError ? error.code : undefined, err: reason }, `model ${key} failed while scoring; it is stopped`);
    const workerDied = error instanceof VigilError && error.details.workerExit === true;
    this.stopped.add(key);
    const next = this.registry.fault(model, attempt.version, reason);
    await unloadAll(this, next.released, this.options.log);
    if (workerDied) await this.restartWorker();
    return 'fault';
  }

  /** The worker thread died: every session went with it. Start a new one and load what the registry still refers to. */
  private async restartWorker(): Promise<void> {
    if (!this.options.restartClient) return;
    this.client = await this.options.restartClient();
    const wanted = this.registry.referencedKeys();
    for (const [key, m] of [...this.loaded]) {
      if (!wanted.has(key)) continue;
      try {
        await this.client.load(key, m.manifest, m.onnxBytes, m.agentTags);
      } catch (err) {
        this.options.log.error({ model: key, err: describeError(err) }, 'model could not be reloaded after the scoring worker restarted');
      }
    }
  }
}

export function windowSpecOf(manifest: ModelManifest, lateToleranceMs: number): WindowSpec {
  return {
    tags: manifest.tags,
    samplePeriodMs: manifest.samplePeriodMs,
    windowLength: manifest.windowLength,
    hop: manifest.hop,
    forwardFillMaxAgeMs: manifest.missingData.forwardFillMaxAgeMs ?? 3 * manifest.samplePeriodMs,
    maxFilledShare: manifest.missingData.maxFilledShare,
    maxBadShare: manifest.missingData.maxBadShare,
    lateToleranceMs,
  };
}

/** Versions whose windows are cut the same way share one windower (and so switch without a gap). */
function windowShapeKey(manifest: ModelManifest, lateToleranceMs: number): string {
  return `${manifest.name}|${JSON.stringify(windowSpecOf(manifest, lateToleranceMs))}`;
}
