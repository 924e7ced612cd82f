import { describeError, VigilError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { ModelManifest } from '../../shared/model-manifest.js';
import type { Sample } from '../../shared/sample.js';
import type { WindowResult } from '../../shared/window-result.js';
import { unloadAll, type ModelLoader } from '../models/deploy-package.js';
import type { ModelRegistry } from '../models/model-registry.js';
import type { DueWindows, WindowSpec } from '../windows/due-windows.js';
import { ModelWindower } from '../windows/model-windower.js';
import { WindowRouter } from '../windows/window-router.js';
import { scoreDueWindows } from './score-windows.js';
import type { ScoringClient } from './scoring-client.js';

export interface ModelHostOptions {
  lateToleranceMs: number;
  /** Most windows one batch carries (config models.maxBatch). */
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
 */
export class ModelHost implements ModelLoader {
  private readonly loaded = new Map<string, LoadedModel>();
  private readonly windowers = new Map<string, HostedWindower>();
  private readonly router = new WindowRouter();
  private readonly stats = new Map<string, VersionStats>();
  private draining: Promise<void> | undefined;
  private again = false;
  private closed = false;

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
    if (!this.windowers.has(specKey)) {
      const windower = new ModelWindower(windowSpecOf(manifest, this.options.lateToleranceMs), this.options.maxBatch ? { maxWindowsPerTake: this.options.maxBatch } : {});
      this.windowers.set(specKey, { model: manifest.name, windower });
      this.router.add(specKey, windower);
    }
    if (!this.stats.has(key)) this.stats.set(key, { key, scored: 0, insufficient: 0, shadowScored: 0, batches: 0, inferenceSeconds: 0, faults: 0, last: null });
    return result;
  }

  async unload(key: string): Promise<void> {
    this.loaded.delete(key);
    await this.client.unload(key);
    // A window shape no loaded version uses any more stops being cut.
    const used = new Set([...this.loaded.values()].map((m) => m.specKey));
    for (const specKey of [...this.windowers.keys()]) {
      if (used.has(specKey)) continue;
      this.windowers.delete(specKey);
      this.router.remove(specKey);
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
      let due: DueWindows | null;
      while (this.windowers.has(specKey) && (due = hosted.windower.takeDue())) {
        await this.scoreBatch(hosted.model, specKey, due);
      }
    }
  }

  private async scoreBatch(model: string, specKey: string, due: DueWindows): Promise<void> {
    const scorers = this.registry.atWindowBoundary(model, due.starts[0]);
    await unloadAll(this, scorers.released, this.options.log);
    if (scorers.shadow) await this.scoreWith(model, specKey, scorers.shadow, due, true);
    let active = scorers.active;
    // A fault hands the same batch to whichever version took over; at most as
    // many tries as versions that can fault, so this always ends.
    for (let tries = 0; active && tries < 4; tries++) {
      const outcome = await this.scoreWith(model, specKey, active, due, false);
      if (outcome !== 'fault') return;
      active = this.registry.atWindowBoundary(model, due.starts[0]).active;
    }
  }

  /** `key` is `name@version`, as the registry names the scorers. */
  private async scoreWith(model: string, specKey: string, key: string, due: DueWindows, shadow: boolean): Promise<'ok' | 'skipped' | 'fault'> {
    const version = key.slice(model.length + 1);
    const loaded = this.loaded.get(key);
    // A version with another window shape scores the windows of its own windower.
    if (!loaded || loaded.specKey !== specKey) return 'skipped';
    const stats = this.stats.get(key);
    const started = performance.now();
    try {
      const results = await scoreDueWindows(this.client, key, loaded.manifest, due, { shadow });
      if (stats) {
        stats.batches++;
        stats.inferenceSeconds += (performance.now() - started) / 1000;
        for (const r of results) {
          if (r.status === 'insufficient_data') stats.insufficient++;
          else if (shadow) stats.shadowScored++;
          else stats.scored++;
        }
        stats.last = results[results.length - 1] ?? stats.last;
      }
      this.options.onResults(results);
      return 'ok';
    } catch (err) {
      if (stats) stats.faults++;
      const reason = describeError(err);
      this.options.log.error({ model: key, shadow, code: err instanceof VigilError ? err.code : undefined, err: reason }, `model ${key} failed while scoring; it is stopped`);
      const workerDied = err instanceof VigilError && err.details.workerExit === true;
      const next = this.registry.fault(model, version, reason);
      await unloadAll(this, next.released, this.options.log);
      if (workerDied) await this.restartWorker();
      return 'fault';
    }
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
