import type { DeploymentStatus } from '../../shared/sync-protocol.js';
import type { DeploymentTarget } from '../storage/hub-storage.js';
import { openWaves } from './rollout-waves.js';

/**
 * Which agents a rollback touches and where each returns to. Every agent that
 * may have the version — it runs it, shadows it, is fetching it, was sent it,
 * or failed with it — gets its previous version back, activated. Agents that
 * refused it never left their version, agents that rolled back by themselves
 * are already back, and agents of a wave that was never opened were never sent it.
 */
const MOVED: ReadonlySet<DeploymentStatus> = new Set(['pending', 'downloading', 'shadow', 'active', 'failed']);

export const NO_PREVIOUS_VERSION = 'no previous version to return to';

export interface RollbackPlan {
  /** Agents that get a deploy of `to` (their previous version). */
  returning: Array<{ agent: string; to: string }>;
  /** Agents that had no version of the model before: there is nothing to deploy, and no message removes a model. */
  stranded: string[];
}

export function planRollback(targets: readonly DeploymentTarget[]): RollbackPlan {
  const open = openWaves(targets);
  const moved = targets.filter((t) => t.wave < open && MOVED.has(t.status));
  return {
    returning: moved.flatMap((t) => (t.previousVersion === null ? [] : [{ agent: t.agent, to: t.previousVersion }])),
    stranded: moved.filter((t) => t.previousVersion === null).map((t) => t.agent),
  };
}
