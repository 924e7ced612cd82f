import { join } from 'node:path';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { WindowResult } from '../../shared/window-result.js';
import type { ResolvedConfig } from '../config/schema.js';
import { deployPackage, unloadAll, type DeployOutcome } from '../models/deploy-package.js';
import { ModelDirectory } from '../models/model-directory.js';
import { ModelRegistry, type ModelEvent, type OfferOptions } from '../models/model-registry.js';
import { ModelPersistence, type PackageStore, type RolesStore } from '../models/model-persistence.js';
import { ModelHost } from './model-host.js';
import { ScoringClient } from './scoring-client.js';
import { summarizeModels, type ModelsView, type RefusedPackage } from './models-view.js';

export interface RunningScoring {
  host: ModelHost;
  registry: ModelRegistry;
  directory: ModelDirectory;
  /** Data for GET /models. */
  view(): ModelsView;
  /**
   * Deploys package bytes from elsewhere (the hub), through the same serial
   * queue as the model folder, so calls for one model never overlap. `origin`
   * names the source in logs (e.g. `hub:<deployment>`). Never throws for a bad package.
   */
  deploy(bytes: Uint8Array, origin: string, options: OfferOptions): Promise<DeployOutcome>;
  /** Stops the model's shadow version and unloads it, in the same queue. */
  stopShadow(model: string, reason: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The scoring half of the agent: a worker thread for ONNX sessions, the
 * version registry, and the model folder feeding both. Results go to
 * `onResults` (issue 4 turns them into episodes and outbox records).
 */
/** The LMDB parts that keep packages and roles across restarts (AgentStore's models and state fit). */
export interface ScoringPersistence {
  packages: PackageStore;
  roles: RolesStore;
}

export interface ScoringListeners {
  onResults: (results: WindowResult[]) => void;
  /** Every registry event (activations, refusals, faults, rollbacks), from the first package on. */
  onModelEvent?: (event: ModelEvent) => void;
}

export async function startScoring(config: ResolvedConfig, log: Logger, listeners: ScoringListeners, persistence?: ScoringPersistence): Promise<RunningScoring> {
  const { onResults } = listeners;
  const scoringLog = log.child({ component: 'models' });
  const startClient = () =>
    ScoringClient.start({
      maxBatch: config.models.maxBatch,
      onWorkerExit: (err) => scoringLog.error({ err: describeError(err) }, 'the scoring worker stopped; it is restarted and the models reloaded'),
    });
  const registry = new ModelRegistry({
    onEvent: (event) => {
      if (event.kind === 'fault' || event.kind === 'refused' || event.kind === 'stopped') scoringLog.warn(event, event.message);
      else scoringLog.info(event, event.message);
      listeners.onModelEvent?.(event);
      // Roles changed (activation, rollback, fault): save them after what is queued.
      if (kept && event.kind !== 'refused' && event.kind !== 'ignored') queue = queue.then(() => kept?.sync().catch((err: unknown) => scoringLog.warn({ err: describeError(err) }, 'saving model roles failed')));
    },
  });
  let kept: ModelPersistence | undefined;
  const host = new ModelHost(await startClient(), registry, { lateToleranceMs: config.models.lateToleranceMs, maxBatch: config.models.maxBatch, log: scoringLog, onResults, restartClient: startClient });
  const configuredTags = [...config.opcuaTags, ...config.mqttTags].map((t) => t.name);
  // Packages refused from the model folder, newest last, so /models shows them
  // even when they were too damaged to say which model they were meant to be.
  const refusedPackages: RefusedPackage[] = [];
  // One package at a time: deployPackage needs calls for a model not to overlap.
  let queue: Promise<unknown> = Promise.resolve();
  const deploy = async (bytes: Uint8Array, origin: string, options: OfferOptions) => {
    const outcome = await deployPackage(bytes, origin, { registry, loader: host, configuredTags, log: scoringLog }, options);
    if (kept && outcome.key && (outcome.result === 'activated' || outcome.result === 'pending' || outcome.result === 'shadow')) {
      await kept.remember(outcome.key, bytes);
      await kept.sync();
    }
    return outcome;
  };
  if (persistence) {
    kept = new ModelPersistence(persistence.packages, persistence.roles, registry, scoringLog);
    // The versions the agent used before it stopped come back first; the folder can only move them forward.
    for (const { key, bytes, mode } of kept.restorePlan()) {
      const outcome = await deploy(bytes, `store:${key}`, { mode, explicit: true });
      scoringLog.info({ model: key, mode, result: outcome.result }, 'model restored from the store');
    }
  }
  const folder = (dir: string, mode: 'activate' | 'shadow') =>
    new ModelDirectory(
      dir,
      (file, bytes) => {
        queue = queue.then(async () => {
          const outcome = await deploy(bytes, file, { mode });
          const previous = refusedPackages.findIndex((p) => p.file === file);
          if (previous >= 0) refusedPackages.splice(previous, 1);
          if (outcome.result === 'refused') {
            refusedPackages.push({ file, model: outcome.key ?? null, reason: outcome.reason ?? 'refused', at: Date.now() });
            if (refusedPackages.length > 50) refusedPackages.shift();
          }
        });
        return queue.then(() => undefined);
      },
      scoringLog,
    );
  // <dir>/*.vmodel are activated (highest version wins); <dir>/shadow/*.vmodel
  // score beside the active version, marked shadow. Moving a package from
  // shadow/ up into <dir> promotes it at the next window boundary.
  const directory = folder(config.models.dir, 'activate');
  const shadowDirectory = folder(join(config.models.dir, 'shadow'), 'shadow');
  await directory.start();
  await shadowDirectory.start();

  const deployQueued = (bytes: Uint8Array, origin: string, options: OfferOptions): Promise<DeployOutcome> => {
    // After whatever is queued, even if that failed.
    const outcome = queue.catch(() => undefined).then(() => deploy(bytes, origin, options));
    queue = outcome.catch(() => undefined);
    return outcome;
  };

  return {
    host,
    registry,
    directory,
    deploy: deployQueued,
    stopShadow: (model, reason) => {
      const done = queue.catch(() => undefined).then(async () => {
        const { released } = registry.stopShadow(model, reason);
        await unloadAll(host, released, scoringLog);
        await kept?.sync();
      });
      queue = done.catch(() => undefined);
      return done;
    },
    view: () => ({ ...summarizeModels(registry, host), refusedPackages: refusedPackages.map((p) => ({ ...p })) }),
    stop: async () => {
      await directory.stop();
      await shadowDirectory.stop();
      await queue;
      await host.close();
    },
  };
}
