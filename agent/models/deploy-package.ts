import { describeError, VigilError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { modelKey } from '../../shared/model-manifest.js';
import type { ModelManifest } from '../../shared/model-manifest.js';
import { tagsKnownTo } from './agent-tags.js';
import type { ModelRegistry, OfferOptions, OfferOutcome } from './model-registry.js';
import { readModelPackage } from './package-file.js';

/** What deploying needs from the scoring side: ScoringClient fits. */
export interface ModelLoader {
  /** Verifies (checksum, manifest vs ONNX, tags, dry run) and loads under `key`; rejects with a VigilError refusal. */
  load(key: string, manifest: ModelManifest, onnxBytes: Uint8Array, agentTags?: string[]): Promise<unknown>;
  unload(key: string): Promise<void>;
}

export interface DeployDeps {
  registry: ModelRegistry;
  loader: ModelLoader;
  /** The agent configuration's tag names (templates included); a model tag outside them refuses the package. */
  configuredTags: readonly string[];
  log: Logger;
}

export interface DeployOutcome {
  /** `name@version`, when the manifest could be read. */
  key?: string;
  result: OfferOutcome['result'] | 'refused';
  reason?: string;
}

/**
 * One package, from bytes to a registry decision: read it, skip the load when
 * the registry would not take it, load and verify it beside the active version,
 * offer it, and unload whatever the registry let go. A refusal is recorded in
 * the registry with every reason; the active version is never touched by a
 * refusal. Never throws for a bad package. Used for the model folder (and
 * later for packages the hub pushes); calls for one model must not overlap.
 */
export async function deployPackage(bytes: Uint8Array, origin: string, deps: DeployDeps, options: OfferOptions = { mode: 'activate' }): Promise<DeployOutcome> {
  const { registry, loader, log } = deps;
  let manifest: ModelManifest;
  let onnxBytes: Uint8Array;
  try {
    ({ manifest, onnxBytes } = readModelPackage(bytes, origin));
  } catch (err) {
    const reason = describeError(err);
    // A checksum mismatch still knows which model it was meant to be.
    const key = err instanceof VigilError && typeof err.details.model === 'string' ? err.details.model : undefined;
    const [name, version] = key ? splitKey(key) : [];
    if (name && version) registry.refused(name, version, reason);
    log.error({ origin, model: key, code: err instanceof VigilError ? err.code : undefined, err: reason }, 'model package refused');
    return { ...(key ? { key } : {}), result: 'refused', reason };
  }

  const key = modelKey(manifest);
  const decision = registry.consider(manifest.name, manifest.version, options);
  if (decision.action === 'ignore') {
    log.info({ origin, model: key, reason: decision.reason }, 'model package not activated');
    return { key, result: 'ignored', reason: decision.reason };
  }
  if (decision.action === 'load') {
    try {
      await loader.load(key, manifest, onnxBytes, [...tagsKnownTo(deps.configuredTags, manifest.tags)]);
    } catch (err) {
      const reasons = err instanceof VigilError && Array.isArray(err.details.reasons) ? (err.details.reasons as string[]).join('; ') : describeError(err);
      registry.refused(manifest.name, manifest.version, reasons);
      log.error({ origin, model: key, code: err instanceof VigilError ? err.code : undefined, err: describeError(err) }, 'model package refused');
      return { key, result: 'refused', reason: reasons };
    }
  }
  const outcome = registry.offer(manifest, options);
  await unloadAll(loader, outcome.released, log);
  return { key, result: outcome.result, ...(outcome.reason ? { reason: outcome.reason } : {}) };
}

/** Unloads keys the registry no longer refers to; a failed unload is logged, never fatal. */
export async function unloadAll(loader: Pick<ModelLoader, 'unload'>, keys: readonly string[], log: Logger): Promise<void> {
  for (const key of keys) {
    try {
      await loader.unload(key);
    } catch (err) {
      log.warn({ model: key, err: describeError(err) }, 'could not unload a model version');
    }
  }
}

function splitKey(key: string): [string, string] | [] {
  const at = key.lastIndexOf('@');
  return at > 0 ? [key.slice(0, at), key.slice(at + 1)] : [];
}
