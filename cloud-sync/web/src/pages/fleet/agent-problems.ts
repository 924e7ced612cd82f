import type { AgentView } from '../../api/api-types.js';
import { formatCount, formatSkew } from '../../format/number-format.js';
import { formatAge } from '../../format/time-format.js';

export interface AgentProblem {
  kind: 'revoked' | 'never-connected' | 'offline' | 'degraded' | 'skewed' | 'backlog-growing' | 'sources-down' | 'tags-not-live' | 'drops';
  text: string;
}

/** Records waiting in the agent's outbox, all streams together. */
export function backlogTotal(agent: AgentView): number | null {
  if (!agent.health) return null;
  const { scores, episodes, events } = agent.health.backlog;
  return scores + episodes + events;
}

/**
 * What is wrong with a gateway, in the words the fleet page shows. The
 * backlog counts as growing, and drops as a problem, only when they rose
 * since the previous refresh (the hub keeps only the last heartbeat, so the
 * page compares): a gateway that dropped samples once, hours ago, is not
 * flagged for the rest of its run — its Drops column still shows the total.
 */
export function agentProblems(agent: AgentView, previousBacklog: number | undefined, now: number, previousDrops?: number): AgentProblem[] {
  if (agent.revoked) return [{ kind: 'revoked', text: 'token revoked: the gateway cannot connect' }];
  if (agent.lastSeenAt === null) return [{ kind: 'never-connected', text: 'never connected: install the token on the gateway' }];
  const problems: AgentProblem[] = [];
  if (!agent.online) problems.push({ kind: 'offline', text: `offline, last seen ${formatAge(agent.lastSeenAt, now)}` });
  const health = agent.health;
  if (health?.status === 'degraded') problems.push({ kind: 'degraded', text: `degraded: ${health.reasons.join('; ') || 'no reason given'}` });
  if (agent.skewed && agent.skewMs !== null) problems.push({ kind: 'skewed', text: `clock off by ${formatSkew(agent.skewMs)}` });
  const backlog = backlogTotal(agent);
  if (backlog !== null && previousBacklog !== undefined && backlog > previousBacklog) {
    problems.push({ kind: 'backlog-growing', text: `backlog growing (+${formatCount(backlog - previousBacklog)} since the last refresh)` });
  }
  if (health && health.sourcesConnected < health.sourcesTotal) {
    problems.push({ kind: 'sources-down', text: `${health.sourcesTotal - health.sourcesConnected} of ${health.sourcesTotal} sources disconnected` });
  }
  if (health && health.tagsLive < health.tagsConfigured) {
    problems.push({ kind: 'tags-not-live', text: `${health.tagsConfigured - health.tagsLive} of ${health.tagsConfigured} tags not live` });
  }
  if (health && previousDrops !== undefined && health.dropsTotal > previousDrops) {
    problems.push({ kind: 'drops', text: `dropping: +${formatCount(health.dropsTotal - previousDrops)} since the last refresh (${formatCount(health.dropsTotal)} since the agent started)` });
  }
  return problems;
}
