import type { DeploymentStatus } from '../../shared/sync-protocol.js';
import type { DeploymentTarget } from '../storage/hub-storage.js';

/**
 * Staged rollout as a pure function of the targets' statuses, so a hub that
 * restarts (or a second replica) reaches the same decisions from storage.
 *
 * Wave k may be sent once every target of the waves before it is `active`:
 * wave 0 (the canary agents) at once, wave 1 (the rest) when all canaries run
 * the new version. A canary that refuses or fails stops the rollout there.
 */

/** Statuses after which the hub expects nothing more from the agent for this deployment. */
const FINISHED: ReadonlySet<DeploymentStatus> = new Set(['active', 'refused', 'failed', 'rolled_back']);
/** An agent that did not take the version. `rolled_back` is neither good nor bad: the agent returned to where it was. */
const REFUSALS: ReadonlySet<DeploymentStatus> = new Set(['refused', 'failed']);

export const isFinished = (status: DeploymentStatus): boolean => FINISHED.has(status);

/** Canary agents (the first `canary` of the id-sorted list) are wave 0, the rest wave 1; no canary: everyone is wave 0. */
export function waveOf(index: number, canary: number | null): number {
  return canary !== null && index >= canary ? 1 : 0;
}

/** How many waves may be sent: waves 0 … openWaves−1. */
export function openWaves(targets: readonly DeploymentTarget[]): number {
  const waves = [...new Set(targets.map((t) => t.wave))].sort((a, b) => a - b);
  let open = 0;
  for (const wave of waves) {
    open = wave + 1;
    if (!targets.filter((t) => t.wave === wave).every((t) => t.status === 'active')) break;
  }
  return Math.max(open, 1);
}

export type RolloutOutcome = { state: 'completed' | 'failed'; reason: string | null } | null;

/**
 * Where the rollout ends, or null while agents still have work: completed when
 * every agent that could take the version took it (refusals named in the
 * reason), failed when none did or a canary wave stopped the rollout.
 */
export function rolloutOutcome(targets: readonly DeploymentTarget[]): RolloutOutcome {
  const open = openWaves(targets);
  const sendable = targets.filter((t) => t.wave < open);
  if (sendable.some((t) => !isFinished(t.status))) return null;

  const refusals = sendable.filter((t) => REFUSALS.has(t.status));
  const held = targets.filter((t) => t.wave >= open);
  if (held.length > 0) {
    const stopped = sendable.filter((t) => t.status !== 'active');
    return { state: 'failed', reason: `the canary wave did not complete (${describeTargets(stopped)}); ${held.length} other agent${held.length === 1 ? ' was' : 's were'} not deployed to` };
  }
  if (refusals.length === 0) return { state: 'completed', reason: null };
  const active = sendable.filter((t) => t.status === 'active').length;
  if (active === 0) return { state: 'failed', reason: `no agent took the version: ${describeTargets(refusals)}` };
  return { state: 'completed', reason: `active on ${active} of ${targets.length} agents; ${describeTargets(refusals)}` };
}

/** `gw1 refused: reason; gw2 failed: reason`, the first few and a count. */
export function describeTargets(targets: readonly DeploymentTarget[], shown = 5): string {
  const parts = targets.slice(0, shown).map((t) => `${t.agent} ${t.status.replace('_', ' ')}${t.reason ? `: ${t.reason}` : ''}`);
  if (targets.length > shown) parts.push(`and ${targets.length - shown} more`);
  return parts.join('; ');
}
