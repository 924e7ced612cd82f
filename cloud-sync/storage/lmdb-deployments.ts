import { VigilError } from '../../shared/errors.js';
import type { DeploymentRecord, DeploymentTarget } from './hub-storage.js';
import { KEY_MAX, durableWrite, type HubDbs } from './lmdb-layout.js';
import { mergePatch } from './merge-patch.js';

type DeploymentPatch = Partial<Pick<DeploymentRecord, 'state' | 'reason' | 'updatedAt'>>;
type TargetPatch = Partial<Pick<DeploymentTarget, 'status' | 'reason' | 'shadowUntil' | 'updatedAt'>>;

/** Newest first; ties (same millisecond) by id, descending, so the order is stable. */
function newestFirst(a: DeploymentRecord, b: DeploymentRecord): number {
  return b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/** Deployments and their per-agent targets, with an agent → deployments index. */
export class LmdbDeployments {
  constructor(private readonly dbs: HubDbs) {}

  create(deployment: DeploymentRecord, targets: readonly DeploymentTarget[]): Promise<void> {
    return durableWrite(this.dbs.env, () => {
      if (this.dbs.deployments.doesExist(deployment.id)) {
        throw new VigilError('VIGIL_API_CONFLICT', `deployment ${deployment.id} exists already`);
      }
      this.dbs.deployments.putSync(deployment.id, deployment);
      for (const target of targets) {
        this.dbs.targets.putSync([deployment.id, target.agent], { ...target, deployment: deployment.id });
        this.dbs.targetsByAgent.putSync([target.agent, deployment.id], null);
      }
    });
  }

  get(id: string): DeploymentRecord | undefined {
    return this.dbs.deployments.get(id);
  }

  list(filter: { model?: string; agent?: string; limit?: number } = {}): DeploymentRecord[] {
    const candidates =
      filter.agent === undefined
        ? [...this.dbs.deployments.getRange({})].map(({ value }) => value)
        : this.deploymentsOf(filter.agent);
    const out = candidates.filter((d) => filter.model === undefined || d.model === filter.model).sort(newestFirst);
    return filter.limit === undefined ? out : out.slice(0, Math.max(0, filter.limit));
  }

  /** Rejects with VIGIL_API_NOT_FOUND when there is no such deployment. */
  update(id: string, patch: DeploymentPatch): Promise<void> {
    return durableWrite(this.dbs.env, () => {
      const existing = this.dbs.deployments.get(id);
      if (!existing) throw new VigilError('VIGIL_API_NOT_FOUND', `no deployment ${id}`);
      this.dbs.deployments.putSync(id, mergePatch(existing, patch));
    });
  }

  /** In agent id order. */
  targets(deployment: string): DeploymentTarget[] {
    return [...this.dbs.targets.getRange({ start: [deployment], end: [deployment, KEY_MAX] })].map(({ value }) => value);
  }

  /** Newest deployment first. */
  targetsOfAgent(agent: string): DeploymentTarget[] {
    const out: DeploymentTarget[] = [];
    for (const deployment of this.deploymentsOf(agent).sort(newestFirst)) {
      const target = this.dbs.targets.get([deployment.id, agent]);
      if (target) out.push(target);
    }
    return out;
  }

  /** Rejects with VIGIL_API_NOT_FOUND when the agent is not a target of the deployment. */
  updateTarget(deployment: string, agent: string, patch: TargetPatch): Promise<void> {
    return durableWrite(this.dbs.env, () => {
      const existing = this.dbs.targets.get([deployment, agent]);
      if (!existing) throw new VigilError('VIGIL_API_NOT_FOUND', `agent ${agent} is not a target of deployment ${deployment}`);
      this.dbs.targets.putSync([deployment, agent], mergePatch(existing, patch));
    });
  }

  private deploymentsOf(agent: string): DeploymentRecord[] {
    const out: DeploymentRecord[] = [];
    for (const key of this.dbs.targetsByAgent.getKeys({ start: [agent], end: [agent, KEY_MAX] })) {
      const deployment = this.dbs.deployments.get(key[1]);
      if (deployment) out.push(deployment);
    }
    return out;
  }
}
