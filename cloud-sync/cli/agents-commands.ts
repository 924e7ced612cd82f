import { agentView } from '../api/agent-view.js';
import { agentTokenAdvice, enrolAgent, renewAgentToken } from '../auth/agent-enrolment.js';
import { isoTime, table, withHubStorage, type Print } from './with-hub-storage.js';

/** `vigil hub agents add <id> [--label k=v …]`: prints the token once. */
export function runAgentsAdd(id: string, labels: Record<string, string>, configFile: string, out: Print): Promise<number> {
  return withHubStorage('hub agents add', configFile, async (storage) => {
    const { agent, token } = await enrolAgent(storage, id, labels);
    const shownLabels = Object.entries(agent.labels).map(([k, v]) => `${k}=${v}`).join(', ');
    out(`Agent ${id} created${shownLabels ? ` (labels: ${shownLabels})` : ''}. Its token:`);
    out('');
    out(`  ${token}`);
    out('');
    out(agentTokenAdvice(id));
    return 0;
  });
}

export function runAgentsList(configFile: string, out: Print): Promise<number> {
  return withHubStorage('hub agents list', configFile, async (storage, config) => {
    const agents = (await storage.listAgents()).map((a) => agentView(a, config.sync.maxSkewMs, config.sync.offlineAfterMs));
    if (agents.length === 0) {
      out('No agents yet: add one with `vigil hub agents add <id> --config <hub.yaml>`.');
      return 0;
    }
    const rows = agents.map((a) => [
      a.id,
      a.revoked ? 'revoked' : a.online ? `online (${a.connectedTo})` : 'offline',
      isoTime(a.lastSeenAt),
      a.software ?? '-',
      a.health ? String(a.health.backlog.scores + a.health.backlog.episodes + a.health.backlog.events) : '-',
      a.skewMs === null ? '-' : `${a.skewMs} ms${a.skewed ? ' (skewed)' : ''}`,
      Object.entries(a.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-',
    ]);
    out(table(['AGENT', 'STATE', 'LAST SEEN', 'SOFTWARE', 'BACKLOG', 'CLOCK SKEW', 'LABELS'], rows));
    return 0;
  });
}

export function runAgentsRevoke(id: string, configFile: string, out: Print): Promise<number> {
  return withHubStorage('hub agents revoke', configFile, async (storage) => {
    if (!(await storage.revokeAgent(id, Date.now()))) {
      process.stderr.write(`vigil hub agents revoke: there is no agent ${id}\n`);
      return 1;
    }
    out(`Agent ${id} revoked: new connections are refused at once; a running hub closes its current connection at the next heartbeat. Issue a new token with \`vigil hub agents token ${id}\`.`);
    return 0;
  });
}

export function runAgentsToken(id: string, configFile: string, out: Print): Promise<number> {
  return withHubStorage('hub agents token', configFile, async (storage) => {
    const { token } = await renewAgentToken(storage, id);
    out(`New token for agent ${id} (the old one no longer works):`);
    out('');
    out(`  ${token}`);
    out('');
    out(agentTokenAdvice(id));
    return 0;
  });
}
