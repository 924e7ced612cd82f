import { describeError, VigilError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { modelKey } from '../../shared/model-manifest.js';
import type { Deploy, DeploymentStatus, ModelStatus } from '../../shared/sync-protocol.js';
import type { AgentChannels, DeploymentHooks } from '../gateway/agent-channels.js';
import type { DeploymentRecord, DeploymentTarget, HubStorage, ModelVersionRecord } from '../storage/hub-storage.js';
import { parseDeployRequest, type DeployRequest } from './deploy-request.js';
import { deployMessage } from './deploy-message.js';
import { newDeploymentId } from './deployment-id.js';
import { PerKeyBatches } from './per-key-batches.js';
import { PerKeyQueue } from './per-key-queue.js';
import { NO_PREVIOUS_VERSION, planRollback } from './rollback-plan.js';
import { openWaves, rolloutOutcome, waveOf } from './rollout-waves.js';
import { previousVersionOn, selectAgents } from './select-targets.js';
import { ShadowDeadlines, type ShadowDeadline } from './shadow-deadlines.js';

export type { DeployRequest } from './deploy-request.js';

export interface DeployerDeps {
  storage: HubStorage;
  channels: AgentChannels;
  log: Logger;
  now?: () => number;
  /** How often due shadow periods are looked for, ms. Default 1000. */
  shadowCheckMs?: number;
}

/** A target with the version it deploys (a rollback returns each agent to its own previous version). */
export type TargetView = DeploymentTarget & { version: string | null };
export type DeploymentView = DeploymentRecord & { targets: TargetView[] };

interface StatusReport {
  agent: string;
  status: ModelStatus;
}

/** Answers that move the rollout on; downloading and shadow only change the target. */
const DECISIVE: ReadonlySet<DeploymentStatus> = new Set(['active', 'refused', 'failed', 'rolled_back']);

/**
 * The deployment room of the hub. Flow of one deployment:
 *
 *   deploy() ── targets (pending, wave 0 canaries / wave 1 rest) ──> storage
 *      └─ `deploy` to the connected agents of wave 0
 *   agent ── model_status ──> onModelStatus ── target status ──> storage
 *      ├─ shadow: shadowUntil = now + shadowMs; the timer sends `deploy` mode activate when it passes
 *      ├─ all of a wave active: `deploy` to the next wave
 *      ├─ failed (run-time fault): rollback() of the whole deployment, automatically
 *      └─ every agent answered: completed (or failed when none took it)
 *   agent reconnects ── onAgentReady ──> resend what it has not finished
 *
 * Decisions are made from storage (targets carry status, wave and shadowUntil),
 * so a restarted hub picks up where it stopped. Work on one deployment is
 * serialised — across replicas too, under the storage's lock — and different
 * deployments proceed in parallel. `channels` reaches agents on every replica
 * (Fleet), so whichever replica decides, the agent gets the notice.
 */
export class Deployer implements DeploymentHooks {
  private readonly now: () => number;
  // Per deployment, one decision at a time in this process, and under the storage's lock across replicas.
  private readonly queue = new PerKeyQueue((id, task) => this.deps.storage.withLock(`deployment:${id}`, task));
  private readonly statuses = new PerKeyBatches<StatusReport>(this.queue, (id, reports) => this.applyStatuses(id, reports));
  private readonly shadows = new ShadowDeadlines();
  /** Rollback deployment id → agent → version it returns to (from the undone deployment's targets; immutable). */
  private readonly rollbackVersions = new Map<string, Map<string, string | null>>();
  /** name@version → record; versions are immutable, so this never goes stale. */
  private readonly versions = new Map<string, ModelVersionRecord>();
  private timer: NodeJS.Timeout | undefined;
  private loaded: Promise<void> = Promise.resolve();
  private checking = false;

  constructor(private readonly deps: DeployerDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Loads pending shadow deadlines from storage and checks them every second. */
  start(): void {
    if (this.timer) return;
    this.loaded = this.loadShadowDeadlines().catch((err) => this.deps.log.error({ err: describeError(err) }, 'shadow deadlines could not be loaded; shadowing agents activate when they reconnect'));
    this.timer = setInterval(() => void this.activateDueShadows(), this.deps.shadowCheckMs ?? 1000);
    this.timer.unref();
  }

  /** Stops the timer; resolves once decisions already queued are written, so storage can close after it. */
  stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return this.queue.idle();
  }

  async deploy(request: DeployRequest, by: string): Promise<DeploymentRecord> {
    const r = parseDeployRequest(request);
    const version = await this.modelVersion(r.model, r.version);
    if (!version) {
      throw new VigilError('VIGIL_API_NOT_FOUND', `model ${r.model} version ${r.version} is not in the registry; upload it first (vigil model push)`, { details: { model: r.model, version: r.version } });
    }
    const agents = selectAgents(await this.deps.storage.listAgents(), { agents: r.agents, labels: r.labels });
    const now = this.now();
    const id = newDeploymentId(now);
    const deployment: DeploymentRecord = {
      id,
      model: r.model,
      version: r.version,
      mode: r.mode,
      shadowMs: r.shadowMs,
      selector: { agents: r.agents ?? [], labels: r.labels },
      canary: r.canary,
      rollbackOf: null,
      state: 'rolling_out',
      reason: null,
      createdAt: now,
      createdBy: by,
      updatedAt: now,
    };
    const targets: DeploymentTarget[] = agents.map((agent, i) => ({
      deployment: id,
      agent: agent.id,
      wave: waveOf(i, r.canary),
      status: 'pending',
      reason: null,
      previousVersion: previousVersionOn(agent, r.model, r.version),
      shadowUntil: null,
      updatedAt: now,
    }));
    await this.deps.storage.createDeployment(deployment, targets);
    const sent = this.sendAll(targets.filter((t) => t.wave === 0), () => deployMessage(id, version, r.mode, false));
    this.deps.log.info(
      { deployment: id, model: `${r.model}@${r.version}`, mode: r.mode, shadowMs: r.shadowMs, canary: r.canary, agents: targets.length, sent, by },
      'deployment started',
    );
    return deployment;
  }

  /**
   * Undoes a deployment with a new one (rollbackOf = id) that activates each
   * touched agent's previous version, with `rollback: true`.
   */
  rollback(deploymentId: string, by: string, reason?: string): Promise<DeploymentRecord> {
    return this.queue.run(deploymentId, async () => {
      const deployment = await this.deps.storage.getDeployment(deploymentId);
      if (!deployment) throw new VigilError('VIGIL_API_NOT_FOUND', `there is no deployment ${deploymentId}`, { details: { deployment: deploymentId } });
      return this.rollbackNow(deployment, by, reason ?? `requested by ${by}`);
    });
  }

  /** A deployment with its targets, each with the version it deploys; undefined when there is none. */
  async view(deploymentId: string): Promise<DeploymentView | undefined> {
    const deployment = await this.deps.storage.getDeployment(deploymentId);
    if (!deployment) return undefined;
    const versionFor = await this.versionsOf(deployment);
    const targets = await this.deps.storage.listTargets(deploymentId);
    return { ...deployment, targets: targets.map((t) => ({ ...t, version: versionFor(t.agent) })) };
  }

  async onAgentReady(agent: string): Promise<void> {
    try {
      // Newest first: only an agent's latest deployment of each model counts, so
      // an older rollout that is still open never overrides a newer decision.
      const seen = new Set<string>();
      for (const target of await this.deps.storage.targetsOfAgent(agent)) {
        const deployment = await this.deps.storage.getDeployment(target.deployment);
        if (!deployment || seen.has(deployment.model)) continue;
        seen.add(deployment.model);
        if (deployment.state === 'rolling_out') await this.queue.run(deployment.id, () => this.resend(deployment.id, agent));
      }
    } catch (err) {
      this.deps.log.error({ agent, err: describeError(err) }, 'pending deployments could not be resent to a reconnected agent');
    }
  }

  async onModelStatus(agent: string, status: ModelStatus): Promise<void> {
    try {
      const deploymentId = await this.findDeployment(agent, status);
      if (!deploymentId) {
        this.deps.log.info({ agent, model: `${status.model}@${status.version}`, status: status.status }, 'model status matches no deployment');
        return;
      }
      await this.statuses.add(deploymentId, { agent, status });
    } catch (err) {
      this.deps.log.error({ agent, deployment: status.deployment, status: status.status, err: describeError(err) }, 'model status could not be applied');
    }
  }

  /** Sends `deploy` mode activate to agents whose shadow period has ended. Run by the timer; public so tests can drive it with their clock. */
  async activateDueShadows(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      await this.loaded;
      const due = this.shadows.takeDue(this.now());
      await Promise.all(due.map((d) => this.queue.run(d.deployment, () => this.activateShadow(d))));
    } catch (err) {
      this.deps.log.error({ err: describeError(err) }, 'shadow periods could not be checked');
    } finally {
      this.checking = false;
    }
  }

  // ── inside a deployment's queue ──────────────────────────────────────────

  /** Status reports for one deployment, in arrival order: targets written together, then one decision. */
  private async applyStatuses(deploymentId: string, reports: readonly StatusReport[]): Promise<void> {
    const { storage, log } = this.deps;
    const deployment = await storage.getDeployment(deploymentId);
    if (!deployment) return;
    const before = await storage.listTargets(deploymentId);
    const current = new Map(before.map((t) => [t.agent, t]));
    const now = this.now();
    const writes: Array<Promise<void>> = [];
    let failure: StatusReport | undefined;
    for (const { agent, status } of reports) {
      const target = current.get(agent);
      if (!target) continue;
      const patch: Partial<Pick<DeploymentTarget, 'status' | 'reason' | 'shadowUntil' | 'updatedAt'>> = { status: status.status, reason: status.reason ?? null, updatedAt: now };
      // The period starts at the first report; a repeated `shadow` (after a reconnect) does not extend it.
      if (status.status === 'shadow' && deployment.mode === 'shadow' && target.shadowUntil === null) patch.shadowUntil = now + (deployment.shadowMs ?? 0);
      const updated: DeploymentTarget = { ...target, ...patch };
      current.set(agent, updated);
      writes.push(storage.updateTarget(deploymentId, agent, patch));
      log.info({ deployment: deploymentId, agent, model: `${status.model}@${status.version}`, status: status.status, reason: status.reason }, 'deployment target updated');
      if (updated.status === 'shadow' && updated.shadowUntil !== null && deployment.state === 'rolling_out') {
        this.shadows.set({ deployment: deploymentId, agent, until: updated.shadowUntil });
      } else {
        this.shadows.delete(deploymentId, agent);
      }
      if (status.status === 'failed') failure ??= { agent, status };
    }
    // Issued together, the writes share commits; lmdb-js keeps their order, so a later report on a target wins.
    await Promise.all(writes);

    if (failure && deployment.rollbackOf === null && deployment.state !== 'rolled_back') {
      await this.rollbackNow(deployment, 'hub', `automatic: ${failure.agent} reported failure: ${failure.status.reason ?? 'no reason given'}`);
      return;
    }
    if (deployment.state !== 'rolling_out' || !reports.some((r) => DECISIVE.has(r.status.status))) return;

    const after = before.map((t) => current.get(t.agent) ?? t);
    const wasOpen = openWaves(before);
    const nowOpen = openWaves(after);
    if (nowOpen > wasOpen) {
      const next = after.filter((t) => t.wave >= wasOpen && t.wave < nowOpen && t.status === 'pending');
      const versionFor = await this.versionsOf(deployment);
      let sent = 0;
      for (const t of next) if (await this.sendTarget(deployment, t, versionFor, deployment.mode)) sent++;
      log.info({ deployment: deploymentId, wave: nowOpen - 1, agents: next.length, sent }, 'canary wave active; deploying to the next wave');
    }
    const outcome = rolloutOutcome(after);
    if (outcome) {
      await storage.updateDeployment(deploymentId, { state: outcome.state, ...(outcome.reason !== null ? { reason: outcome.reason } : {}), updatedAt: now });
      this.shadows.deleteDeployment(deploymentId);
      log[outcome.state === 'completed' ? 'info' : 'warn']({ deployment: deploymentId, state: outcome.state, reason: outcome.reason }, `deployment ${outcome.state}`);
    }
  }

  private async rollbackNow(deployment: DeploymentRecord, by: string, reason: string): Promise<DeploymentRecord> {
    const { storage, log } = this.deps;
    if (deployment.state === 'rolled_back') {
      throw new VigilError('VIGIL_API_CONFLICT', `deployment ${deployment.id} is already rolled back (${deployment.reason ?? 'no reason recorded'})`, { details: { deployment: deployment.id } });
    }
    const targets = await storage.listTargets(deployment.id);
    const plan = planRollback(targets);
    if (plan.returning.length === 0 && plan.stranded.length === 0) {
      throw new VigilError('VIGIL_API_CONFLICT', `deployment ${deployment.id} has nothing to roll back: no agent took ${deployment.model}@${deployment.version}`, { details: { deployment: deployment.id } });
    }
    const undoneVersion = await this.versionsOf(deployment);
    const now = this.now();
    const id = newDeploymentId(now);
    const strandedNote = plan.stranded.length > 0 ? `; ${plan.stranded.join(', ')}: ${NO_PREVIOUS_VERSION}` : '';
    const rollback: DeploymentRecord = {
      id,
      model: deployment.model,
      version: [...new Set(plan.returning.map((r) => r.to))].join(', ') || 'none',
      mode: 'activate',
      shadowMs: null,
      selector: { agents: [...plan.returning.map((r) => r.agent), ...plan.stranded], labels: {} },
      canary: null,
      rollbackOf: deployment.id,
      state: plan.returning.length > 0 ? 'rolling_out' : 'completed',
      reason: reason + strandedNote,
      createdAt: now,
      createdBy: by,
      updatedAt: now,
    };
    const rollbackTargets: DeploymentTarget[] = [
      ...plan.returning.map(({ agent }) => ({ deployment: id, agent, wave: 0, status: 'pending' as const, reason: null, previousVersion: undoneVersion(agent), shadowUntil: null, updatedAt: now })),
      ...plan.stranded.map((agent) => ({ deployment: id, agent, wave: 0, status: 'rolled_back' as const, reason: NO_PREVIOUS_VERSION, previousVersion: undoneVersion(agent), shadowUntil: null, updatedAt: now })),
    ];
    this.rollbackVersions.set(id, new Map([...plan.returning.map((r): [string, string | null] => [r.agent, r.to]), ...plan.stranded.map((a): [string, string | null] => [a, null])]));
    await storage.createDeployment(rollback, rollbackTargets);
    await storage.updateDeployment(deployment.id, { state: 'rolled_back', reason: `rolled back by ${id}: ${reason}`, updatedAt: now });
    this.shadows.deleteDeployment(deployment.id);

    const versionFor = await this.versionsOf(rollback);
    let sent = 0;
    for (const t of rollbackTargets) if (t.status === 'pending' && (await this.sendTarget(rollback, t, versionFor, 'activate'))) sent++;
    log.warn({ deployment: deployment.id, rollback: id, by, reason, returning: plan.returning.length, stranded: plan.stranded, sent }, 'deployment rolled back');
    return rollback;
  }

  /** What a reconnected agent has not finished of one deployment. */
  private async resend(deploymentId: string, agent: string): Promise<void> {
    const deployment = await this.deps.storage.getDeployment(deploymentId);
    if (!deployment || deployment.state !== 'rolling_out') return;
    const targets = await this.deps.storage.listTargets(deploymentId);
    const target = targets.find((t) => t.agent === agent);
    if (!target || target.wave >= openWaves(targets)) return;
    const versionFor = await this.versionsOf(deployment);
    if (target.status === 'pending' || target.status === 'downloading') {
      await this.sendTarget(deployment, target, versionFor, deployment.mode);
    } else if (target.status === 'shadow' && target.shadowUntil !== null) {
      if (target.shadowUntil <= this.now()) await this.sendTarget(deployment, target, versionFor, 'activate');
      else this.shadows.set({ deployment: deploymentId, agent, until: target.shadowUntil });
    }
  }

  private async activateShadow(due: ShadowDeadline): Promise<void> {
    const deployment = await this.deps.storage.getDeployment(due.deployment);
    if (!deployment || deployment.state !== 'rolling_out') return;
    const target = (await this.deps.storage.listTargets(due.deployment)).find((t) => t.agent === due.agent);
    if (!target || target.status !== 'shadow' || target.shadowUntil === null || target.shadowUntil > this.now()) return;
    const sent = await this.sendTarget(deployment, target, await this.versionsOf(deployment), 'activate');
    // Not connected: onAgentReady activates it when the agent is back.
    this.deps.log.info({ deployment: due.deployment, agent: due.agent, sent }, 'shadow period over; activating');
  }

  // ── helpers ──────────────────────────────────────────────────────────────

  /**
   * The deployment a status answers: the one it names when that agent was
   * sent that version by it, else the agent's most recent deployment of that
   * model@version (an agent that rolled back by itself names none).
   */
  private async findDeployment(agent: string, status: ModelStatus): Promise<string | undefined> {
    const targets = await this.deps.storage.targetsOfAgent(agent);
    const named = status.deployment === null ? undefined : targets.find((t) => t.deployment === status.deployment);
    for (const target of named ? [named, ...targets] : targets) {
      const deployment = await this.deps.storage.getDeployment(target.deployment);
      if (deployment?.model === status.model && (await this.versionsOf(deployment))(agent) === status.version) return deployment.id;
    }
    return undefined;
  }

  /** agent → the version this deployment sends it. */
  private async versionsOf(deployment: DeploymentRecord): Promise<(agent: string) => string | null> {
    if (deployment.rollbackOf === null) return () => deployment.version;
    let versions = this.rollbackVersions.get(deployment.id);
    if (!versions) {
      const undone = await this.deps.storage.listTargets(deployment.rollbackOf);
      versions = new Map(undone.map((t) => [t.agent, t.previousVersion]));
      this.rollbackVersions.set(deployment.id, versions);
    }
    const map = versions;
    return (agent) => map.get(agent) ?? null;
  }

  private async sendTarget(deployment: DeploymentRecord, target: DeploymentTarget, versionFor: (agent: string) => string | null, mode: Deploy['mode']): Promise<boolean> {
    const version = versionFor(target.agent);
    if (version === null) return false;
    const record = await this.modelVersion(deployment.model, version);
    if (!record) {
      this.deps.log.error({ deployment: deployment.id, model: deployment.model, version }, 'a deployed model version is missing from the registry');
      return false;
    }
    return this.sendAll([target], () => deployMessage(deployment.id, record, mode, deployment.rollbackOf !== null)) === 1;
  }

  /** Sends to the connected agents among `targets`; how many were sent. Offline agents get theirs in onAgentReady. */
  private sendAll(targets: readonly DeploymentTarget[], message: () => Deploy): number {
    let sent = 0;
    for (const t of targets) if (this.deps.channels.get(t.agent)?.send(message())) sent++;
    return sent;
  }

  private async modelVersion(name: string, version: string): Promise<ModelVersionRecord | undefined> {
    const key = modelKey({ name, version });
    const cached = this.versions.get(key);
    if (cached) return cached;
    const record = await this.deps.storage.getModelVersion(name, version);
    if (record) this.versions.set(key, record);
    return record;
  }

  private async loadShadowDeadlines(): Promise<void> {
    for (const deployment of await this.deps.storage.listDeployments()) {
      if (deployment.state !== 'rolling_out' || deployment.mode !== 'shadow') continue;
      for (const t of await this.deps.storage.listTargets(deployment.id)) {
        if (t.status === 'shadow' && t.shadowUntil !== null) this.shadows.set({ deployment: deployment.id, agent: t.agent, until: t.shadowUntil });
      }
    }
  }
}
