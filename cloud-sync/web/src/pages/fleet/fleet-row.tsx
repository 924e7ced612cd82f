import type { AgentView } from '../../api/api-types.js';
import { formatCount, formatSkew } from '../../format/number-format.js';
import { formatAge, formatDateTime } from '../../format/time-format.js';
import { backlogTotal, type AgentProblem } from './agent-problems.js';
import { ModelVersionsCell } from './model-versions-cell.js';

/** One gateway; problem cells are highlighted and the reasons spelled out in the last column. */
export function FleetRow({ agent, problems, now }: { agent: AgentView; problems: readonly AgentProblem[]; now: number }) {
  const h = agent.health;
  const has = (kind: AgentProblem['kind']) => problems.some((p) => p.kind === kind);
  const flag = (bad: boolean) => (bad ? 'cell-problem' : '');
  const backlog = backlogTotal(agent);
  const labels = Object.entries(agent.labels);
  return (
    <tr class={problems.length > 0 ? 'row-problem' : ''} data-testid="fleet-row" data-agent-id={agent.id} data-problems={problems.map((p) => p.kind).join(' ')}>
      <td>
        <strong>{agent.id}</strong>
        {labels.length > 0 ? <div class="muted small">{labels.map(([k, v]) => `${k}=${v}`).join(' ')}</div> : null}
      </td>
      <td class={flag(has('offline') || has('revoked') || has('never-connected'))} data-testid="fleet-presence">
        {agent.revoked ? (
          <span class="badge badge-alarm">revoked</span>
        ) : agent.online ? (
          <span class="badge badge-ok">online</span>
        ) : (
          <span class="badge badge-off">offline</span>
        )}
        {agent.online && agent.connectedTo !== null ? (
          <div class="small muted" title="the hub replica this gateway is connected to" data-testid="fleet-replica">
            via {agent.connectedTo}
          </div>
        ) : null}
        {agent.lastSeenAt !== null && !agent.online ? (
          <div class="small muted" title={formatDateTime(agent.lastSeenAt)}>
            {formatAge(agent.lastSeenAt, now)}
          </div>
        ) : null}
      </td>
      <td>{agent.software ?? '–'}</td>
      <td>
        <ModelVersionsCell models={agent.models} />
      </td>
      <td class={`num ${flag(has('backlog-growing'))}`} title={h ? `scores ${h.backlog.scores}, episodes ${h.backlog.episodes}, events ${h.backlog.events}` : undefined}>
        {backlog === null ? '–' : formatCount(backlog)}
      </td>
      <td class={`num ${flag(has('drops'))}`}>{h ? formatCount(h.dropsTotal) : '–'}</td>
      <td class={`num ${flag(has('sources-down'))}`}>{h ? `${h.sourcesConnected}/${h.sourcesTotal}` : '–'}</td>
      <td class={`num ${flag(has('tags-not-live'))}`}>{h ? `${h.tagsLive}/${h.tagsConfigured}` : '–'}</td>
      <td class={`num ${flag(has('skewed'))}`}>{agent.skewMs === null ? '–' : formatSkew(agent.skewMs)}</td>
      <td class="cell-problems" data-testid="fleet-problems">
        {problems.length === 0 ? <span class="ok-text">ok</span> : problems.map((p) => <div key={p.kind} class="problem-text">{p.text}</div>)}
      </td>
    </tr>
  );
}
