import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { checkPackageSignature } from '../../shared/package-signature.js';
import type { Deploy, DeploymentStatus, ModelStatus } from '../../shared/sync-protocol.js';
import type { DeployOutcome } from '../models/deploy-package.js';
import type { ModelEvent, ModelRegistry, OfferOptions } from '../models/model-registry.js';
import { readModelPackage } from '../models/package-file.js';
import type { AgentState } from '../store/agent-state.js';
import { roleOf, statusesForEvent, statusForOutcome } from './deploy-status.js';
import type { FetchedPackage } from './fetch-package.js';

/** What deploying needs from the scoring side (RunningScoring fits). */
export interface DeployTarget {
  registry: ModelRegistry;
  /** Through the same serial queue as the model folder. */
  deploy(bytes: Uint8Array, origin: string, options: OfferOptions): Promise<DeployOutcome>;
  /** Stops the model's shadow version and unloads it (a rollback of the deployment that brought it). */
  stopShadow(model: string, reason: string): Promise<void>;
}

export interface HubDeploymentsOptions {
  scoring: DeployTarget;
  /** Downloads `deploy.url` from the hub with the agent's credentials. */
  download: (deploy: Deploy, signal: AbortSignal) => Promise<FetchedPackage>;
  /** The hub's public key (PEM); throws when it cannot be read. Read per deployment, so a fixed file needs no restart. */
  publicKey: () => string;
  /** Sends a status now, or keeps it for the next welcome. */
  report: (status: ModelStatus) => void;
  /** Which deployment brought which model@version survives restarts here. */
  state: Pick<AgentState, 'get' | 'put'>;
  log: Logger;
  now?: () => number;
  /** Waits between download attempts, ms (default 2 s and 5 s: three attempts). */
  retryDelaysMs?: readonly number[];
}

interface Tracked {
  deployment: string;
  status: DeploymentStatus;
}

const STATE_KEY = 'sync:deployments';
/** model@version → deployment pairs remembered; the oldest is forgotten beyond this. */
const TRACKED_LIMIT = 100;

/**
 * Hub deployments on the agent, one at a time:
 *
 *   deploy ─> model_status downloading ─> GET package (token) ─> size
 *          ─> checkPackageSignature (sha256, ed25519) BEFORE anything reads the package
 *               ├─ refused: model_status refused (reason), VIGIL_MODEL_SIGNATURE_INVALID; active version untouched
 *          ─> the manifest names the announced model@version, else refused
 *          ─> scoring.deploy(bytes, 'hub:<deployment>', { mode, explicit: true })
 *          ─> model_status shadow | active | refused (reason)
 *
 * The deployment of each model@version is remembered (in the store, so it
 * outlives a restart): later registry events for that version — a run-time
 * fault, a rollback, a pending switch — are reported as its model_status too.
 */
export class HubDeployments {
  private readonly tracked = new Map<string, Tracked>();
  private queue: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();
  private readonly now: () => number;
  private readonly unsubscribe: () => void;

  constructor(private readonly o: HubDeploymentsOptions) {
    this.now = o.now ?? Date.now;
    const saved = o.state.get<Array<[string, Tracked]>>(STATE_KEY);
    if (Array.isArray(saved)) for (const [key, value] of saved) this.tracked.set(key, value);
    this.unsubscribe = o.scoring.registry.onEvent((event) => this.onRegistryEvent(event));
  }

  /** Queues a deployment; never throws. */
  handle(deploy: Deploy): void {
    this.queue = this.queue.then(() => this.run(deploy)).catch((err: unknown) => this.o.log.error({ deployment: deploy.deployment, err: describeError(err) }, 'hub deployment failed unexpectedly'));
  }

  /** Resolves once every deployment queued so far is applied and reported. */
  idle(): Promise<void> {
    return this.queue;
  }

  /** Cancels downloads and waits for the deployment being applied. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.unsubscribe();
    await this.queue;
  }

  private async run(d: Deploy): Promise<void> {
    if (this.abort.signal.aborted) return;
    const key = `${d.model}@${d.version}`;
    const log = this.o.log.child({ deployment: d.deployment, model: key, mode: d.mode, rollback: d.rollback });
    this.track(key, d.deployment);
    this.send(key, 'downloading');

    let publicKey: string;
    try {
      publicKey = this.o.publicKey();
    } catch (err) {
      return this.refuse(key, d, `the hub public key (hub.publicKeyFile) cannot be read: ${describeError(err)}`, log);
    }
    const fetched = await this.download(d, log);
    if (!fetched.ok) {
      if (this.abort.signal.aborted) return;
      log.warn({ code: 'VIGIL_HUB_UNREACHABLE', reason: fetched.reason }, 'model package could not be downloaded');
      return this.refuse(key, d, `the package could not be downloaded: ${fetched.reason}`, log, false);
    }
    const bytes = fetched.bytes;

    const check = checkPackageSignature(bytes, d.sha256, d.signature, publicKey);
    if (!check.ok) return this.refuse(key, d, check.reason, log);

    // Signed by the hub, so safe to read: it must be what the deploy announced.
    let inside: string | null = null;
    try {
      const { manifest } = readModelPackage(bytes, `hub:${d.deployment}`);
      inside = `${manifest.name}@${manifest.version}`;
    } catch {
      // A damaged package: deployPackage below refuses it with every reason.
    }
    if (inside !== null && inside !== key) return this.refuse(key, d, `the package holds ${inside}, but the hub announced ${key}`, log, false);

    const outcome = await this.o.scoring.deploy(bytes, `hub:${d.deployment}`, { mode: d.mode, explicit: true });
    // A rollback returns the model to this version: a candidate still in shadow goes too.
    if (d.rollback) await this.stopShadow(d.model, d.version, log);
    const change = statusForOutcome(outcome, roleOf(this.o.scoring.registry.snapshot(), d.model, d.version));
    log.info({ result: outcome.result, status: change.status, reason: change.reason }, `hub deployment of ${key}: ${change.status}`);
    this.send(key, change.status, change.reason);
  }

  private async stopShadow(model: string, keep: string, log: Logger): Promise<void> {
    const shadow = this.o.scoring.registry.snapshot().find((m) => m.name === model)?.shadow;
    if (!shadow || shadow === keep) return;
    const reason = `rolled back by the hub to ${model}@${keep}`;
    await this.o.scoring.stopShadow(model, reason);
    log.info({ stopped: `${model}@${shadow}` }, `shadow version ${model}@${shadow} stopped: ${reason}`);
    this.send(`${model}@${shadow}`, 'rolled_back', reason);
  }

  private async download(d: Deploy, log: Logger): Promise<FetchedPackage> {
    const delays = this.o.retryDelaysMs ?? [2000, 5000];
    let result = await this.o.download(d, this.abort.signal);
    for (const delay of delays) {
      if (result.ok || !result.retry || this.abort.signal.aborted) break;
      log.warn({ reason: result.reason, retryInMs: delay }, 'model package download failed; trying again');
      await new Promise((r) => setTimeout(r, delay));
      result = await this.o.download(d, this.abort.signal);
    }
    return result;
  }

  /** Refused before the registry saw the package: record it there too, so /models shows why. */
  private refuse(key: string, d: Deploy, reason: string, log: Logger, signature = true): void {
    if (signature) log.error({ code: 'VIGIL_MODEL_SIGNATURE_INVALID', reason }, `model package from the hub refused: ${reason}`);
    else log.error({ reason }, `model package from the hub refused: ${reason}`);
    this.o.scoring.registry.refused(d.model, d.version, reason);
    this.send(key, 'refused', reason);
  }

  private onRegistryEvent(event: ModelEvent): void {
    for (const change of statusesForEvent(event)) {
      const key = `${event.model}@${change.version}`;
      const tracked = this.tracked.get(key);
      // Only versions a deployment brought, and only real changes.
      if (!tracked || tracked.status === change.status || tracked.status === 'downloading') continue;
      this.send(key, change.status, change.reason);
    }
  }

  private track(key: string, deployment: string): void {
    this.tracked.delete(key);
    this.tracked.set(key, { deployment, status: 'pending' });
    while (this.tracked.size > TRACKED_LIMIT) this.tracked.delete(this.tracked.keys().next().value!);
  }

  private send(key: string, status: DeploymentStatus, reason?: string): void {
    const tracked = this.tracked.get(key);
    if (!tracked) return;
    tracked.status = status;
    const at = key.lastIndexOf('@');
    this.o.report({
      type: 'model_status',
      deployment: tracked.deployment,
      model: key.slice(0, at),
      version: key.slice(at + 1),
      status,
      ...(reason === undefined ? {} : { reason: reason.slice(0, 4000) }),
      at: this.now(),
    });
    this.o.state.put(STATE_KEY, [...this.tracked]).catch((err: unknown) => this.o.log.warn({ err: describeError(err) }, 'could not save which deployment brought which model version'));
  }
}
