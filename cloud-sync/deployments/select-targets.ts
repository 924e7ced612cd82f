import { VigilError } from '../../shared/errors.js';
import type { AgentRecord } from '../storage/hub-storage.js';

export interface TargetSelector {
  /** Agent ids, or null to choose by labels alone. */
  agents: string[] | null;
  /** Every label must match. */
  labels: Record<string, string>;
}

/**
 * The agents a deployment goes to, sorted by id (the canary wave is the first
 * ones). Listed ids must exist, be usable and carry the labels, else the whole
 * request is refused naming them: a deployment that silently skips an agent
 * someone typed is worse than none. Agents matched by label alone skip revoked
 * ones.
 */
export function selectAgents(all: readonly AgentRecord[], selector: TargetSelector): AgentRecord[] {
  const byId = new Map(all.map((a) => [a.id, a]));
  const carriesLabels = (a: AgentRecord) => Object.entries(selector.labels).every(([k, v]) => a.labels[k] === v);

  let chosen: AgentRecord[];
  if (selector.agents !== null) {
    const unknown = selector.agents.filter((id) => !byId.has(id));
    if (unknown.length > 0) throw badRequest(`unknown agent${unknown.length === 1 ? '' : 's'}: ${unknown.join(', ')} (see vigil hub agents list)`, 'agents');
    chosen = [...new Set(selector.agents)].map((id) => byId.get(id)!);
    const revoked = chosen.filter((a) => a.revokedAt !== null);
    if (revoked.length > 0) throw badRequest(`agent${revoked.length === 1 ? '' : 's'} ${revoked.map((a) => a.id).join(', ')} ${revoked.length === 1 ? 'has' : 'have'} a revoked token`, 'agents');
    const unlabelled = chosen.filter((a) => !carriesLabels(a));
    if (unlabelled.length > 0) throw badRequest(`agent${unlabelled.length === 1 ? '' : 's'} ${unlabelled.map((a) => a.id).join(', ')} ${unlabelled.length === 1 ? 'does' : 'do'} not carry the labels ${formatLabels(selector.labels)}`, 'labels');
  } else {
    chosen = all.filter((a) => a.revokedAt === null && carriesLabels(a));
    if (chosen.length === 0) throw badRequest(`no agent carries the labels ${formatLabels(selector.labels)}`, 'labels');
  }
  return chosen.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * The version a rollback returns the agent to: what it runs now, or — when it
 * already runs the version being deployed — the one before that.
 */
export function previousVersionOn(agent: AgentRecord, model: string, deploying: string): string | null {
  const slot = agent.models.find((m) => m.name === model);
  if (!slot) return null;
  if (slot.active !== null && slot.active !== deploying) return slot.active;
  return slot.previous !== null && slot.previous !== deploying ? slot.previous : null;
}

function formatLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

function badRequest(message: string, field: string): VigilError {
  return new VigilError('VIGIL_API_BAD_REQUEST', message, { details: { field } });
}
