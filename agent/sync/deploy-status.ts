import type { DeploymentStatus } from '../../shared/sync-protocol.js';
import type { DeployOutcome } from '../models/deploy-package.js';
import type { ModelEvent, ModelSnapshot } from '../models/model-registry.js';

export type VersionRole = 'active' | 'pending' | 'shadow' | 'previous' | null;

export interface StatusChange {
  status: DeploymentStatus;
  reason?: string;
}

/** Which slot of the registry holds `model@version` now. */
export function roleOf(snapshot: readonly ModelSnapshot[], model: string, version: string): VersionRole {
  const m = snapshot.find((s) => s.name === model);
  if (!m) return null;
  for (const role of ['active', 'pending', 'shadow', 'previous'] as const) if (m[role] === version) return role;
  return null;
}

/**
 * The status a deployment gets from what the registry did with the package.
 *
 * `pending` counts as `active`: the version is loaded, checked and dry-run,
 * and takes over at the next window boundary — nothing can refuse it any
 * more, only a run-time fault (then reported as `failed`). Waiting for the
 * switch would leave the deployment at `downloading` for as long as no
 * window falls due (a source down, a quiet night).
 *
 * An offer the registry did not take because the version already holds a
 * slot (`unchanged`, or `ignored` with "already active") reports that slot:
 * the agent runs what the hub asked for. Any other `ignored` is a refusal
 * with the registry's reason.
 */
export function statusForOutcome(outcome: DeployOutcome, roleAfter: VersionRole): StatusChange {
  switch (outcome.result) {
    case 'shadow':
      return { status: 'shadow' };
    case 'activated':
    case 'pending':
      return { status: 'active' };
    case 'unchanged':
    case 'ignored':
      if (roleAfter === 'active' || roleAfter === 'pending') return { status: 'active' };
      if (roleAfter === 'shadow') return { status: 'shadow' };
      return { status: 'refused', reason: outcome.reason ?? 'the agent did not take this version' };
    case 'refused':
      return { status: 'refused', reason: outcome.reason ?? 'refused' };
  }
}

/**
 * What a registry event means for the deployments of the versions it names
 * (the caller applies it only to versions a deployment brought):
 * - `fault` → that version `failed` (the hub then rolls the deployment back);
 * - `rolled_back` → the replaced version (`from`) `rolled_back`, the returning
 *   one `active`. After a fault the replaced version already reported
 *   `failed`, which says more, so it is not overwritten;
 * - `activated` → `active` (a pending switch happened, or a shadow version was promoted).
 */
export function statusesForEvent(event: ModelEvent): Array<StatusChange & { version: string }> {
  switch (event.kind) {
    case 'fault':
      return [{ version: event.version, status: 'failed', reason: event.reason ?? event.message }];
    case 'rolled_back': {
      const out: Array<StatusChange & { version: string }> = [{ version: event.version, status: 'active' }];
      if (event.from !== undefined && event.reason === undefined) out.push({ version: event.from, status: 'rolled_back', reason: event.message });
      return out;
    }
    case 'activated':
      return [{ version: event.version, status: 'active' }];
    default:
      return [];
  }
}
