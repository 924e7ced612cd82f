import type { AgentView } from '../../api/api-types.js';

/** The gateways that run a version of a model, actively or in shadow (from the agents' own reports). */
export function runningOn(agents: readonly AgentView[], model: string, version: string): { active: string[]; shadow: string[] } {
  const active: string[] = [];
  const shadow: string[] = [];
  for (const agent of agents) {
    if (agent.revoked) continue;
    const m = agent.models.find((x) => x.name === model);
    if (m?.active === version) active.push(agent.id);
    if (m?.shadow === version) shadow.push(agent.id);
  }
  return { active, shadow };
}
