import { useMemo, useRef } from 'preact/hooks';
import { api } from '../../api/api-client.js';
import type { AgentView } from '../../api/api-types.js';
import { ErrorNotice } from '../../components/error-notice.js';
import { usePolled } from '../../hooks/use-polled.js';
import { agentProblems, backlogTotal } from './agent-problems.js';
import { FleetRow } from './fleet-row.js';

/** Every gateway with its health; gateways with problems first, so they are seen. */
export function FleetPage() {
  const agents = usePolled(() => api.get<{ agents: AgentView[] }>('/api/agents'), []);
  // Backlog and drops per agent at the previous and the current refresh: growth shows between two refreshes.
  const backlogs = useRef<{ data: unknown; previous: Map<string, number>; current: Map<string, number> }>({ data: undefined, previous: new Map(), current: new Map() });
  const drops = useRef<{ previous: Map<string, number>; current: Map<string, number> }>({ previous: new Map(), current: new Map() });
  const now = Date.now();
  const rows = useMemo(() => {
    const list = agents.data?.agents ?? [];
    const b = backlogs.current;
    if (agents.data !== b.data) {
      b.data = agents.data;
      b.previous = b.current;
      b.current = new Map(list.flatMap((a) => (backlogTotal(a) === null ? [] : [[a.id, backlogTotal(a)!] as const])));
      drops.current.previous = drops.current.current;
      drops.current.current = new Map(list.flatMap((a) => (a.health ? [[a.id, a.health.dropsTotal] as const] : [])));
    }
    return list
      .map((agent) => ({ agent, problems: agentProblems(agent, b.previous.get(agent.id), now, drops.current.previous.get(agent.id)) }))
      .sort((x, y) => Number(x.agent.revoked) - Number(y.agent.revoked) || y.problems.length - x.problems.length || (x.agent.id < y.agent.id ? -1 : 1));
  }, [agents.data]);

  const online = rows.filter((r) => r.agent.online).length;
  const withProblems = rows.filter((r) => r.problems.length > 0 && !r.agent.revoked).length;
  return (
    <>
      <h1 class="page-title">
        Fleet{' '}
        <span class="muted small" data-testid="fleet-summary">
          {rows.length} gateways · {online} online · {withProblems} with problems · refreshes every 15 s
        </span>
      </h1>
      <ErrorNotice error={agents.error} context="Gateways" />
      <table class="table fleet-table" data-testid="fleet-table">
        <thead>
          <tr>
            <th>Gateway</th>
            <th>Status</th>
            <th>Software</th>
            <th>Models (active, shadow)</th>
            <th class="num" title="Records waiting in the gateway's outbox">Backlog</th>
            <th class="num" title="Dropped since the agent started">Drops</th>
            <th class="num">Sources</th>
            <th class="num" title="Tags live / configured">Tags</th>
            <th class="num" title="Gateway clock minus hub clock">Skew</th>
            <th>Problems</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(({ agent, problems }) => (
            <FleetRow agent={agent} problems={problems} now={now} key={agent.id} />
          ))}
        </tbody>
      </table>
      {agents.data && rows.length === 0 ? <p class="empty">No gateways yet. An admin adds them on the Admin page (or with `vigil hub agents add`).</p> : null}
    </>
  );
}
