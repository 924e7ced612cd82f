import { useState } from 'preact/hooks';
import { api } from '../../api/api-client.js';
import type { AgentView, CreatedAgent } from '../../api/api-types.js';
import { ConfirmButton } from '../../components/confirm-button.js';
import { CopyButton } from '../../components/copy-button.js';
import { ErrorNotice } from '../../components/error-notice.js';
import { formatAge, formatDateTime } from '../../format/time-format.js';
import { usePolled } from '../../hooks/use-polled.js';
import { parseLabels } from '../models/parse-labels.js';
import { useAction } from './use-action.js';

/** Gateways' agent accounts: add one (its token is shown once), revoke one. */
export function AgentsAdmin() {
  const agents = usePolled(() => api.get<{ agents: AgentView[] }>('/api/agents'), []);
  const action = useAction();
  const [id, setId] = useState('');
  const [labels, setLabels] = useState('');
  const [problem, setProblem] = useState<string | undefined>();
  const [created, setCreated] = useState<CreatedAgent | undefined>();

  const add = async (event: Event) => {
    event.preventDefault();
    const parsed = parseLabels(labels);
    if ('error' in parsed) return setProblem(parsed.error);
    setProblem(undefined);
    setCreated(undefined);
    let answer: CreatedAgent | undefined;
    const ok = await action.run(`Adding ${id}`, async () => {
      answer = await api.post<CreatedAgent>('/api/agents', { id: id.trim(), labels: parsed.labels });
    });
    if (ok && answer) {
      setCreated(answer);
      setId('');
      setLabels('');
      agents.reload();
    }
  };
  const revoke = async (agent: string) => {
    if (await action.run(`Revoking ${agent}`, () => api.post(`/api/agents/${encodeURIComponent(agent)}/revoke`))) agents.reload();
  };

  const now = Date.now();
  return (
    <section class="card" data-testid="agents-admin">
      <h2>Agents</h2>
      <ErrorNotice error={agents.error} context="Agents" />
      <ErrorNotice error={action.error?.error} context={action.error?.context} />
      {created ? (
        <div class="notice token-once" data-testid="agent-token">
          <strong>Token for {created.agent.id}</strong> (shown once):
          <code class="token" data-testid="agent-token-value">
            {created.token}
          </code>
          <CopyButton text={created.token} />
          <p class="small">{created.note}</p>
          <button type="button" class="button-quiet" onClick={() => setCreated(undefined)}>
            I have stored it — hide
          </button>
        </div>
      ) : null}
      <table class="table table-middle">
        <thead>
          <tr>
            <th>Agent</th>
            <th>Labels</th>
            <th>Created</th>
            <th>Last seen</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {(agents.data?.agents ?? []).map((a) => (
            <tr key={a.id} data-testid="agent-admin-row" data-agent-id={a.id} class={a.revoked ? 'muted' : ''}>
              <td>{a.id}</td>
              <td class="small">
                {Object.entries(a.labels)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(' ') || '–'}
              </td>
              <td class="small">{formatDateTime(a.createdAt).slice(0, 16)}</td>
              <td class="small">{a.online ? 'online' : a.lastSeenAt === null ? 'never' : formatAge(a.lastSeenAt, now)}</td>
              <td>
                {a.revoked ? (
                  <span class="badge badge-alarm">revoked {a.revokedAt !== null ? formatDateTime(a.revokedAt).slice(0, 16) : ''}</span>
                ) : (
                  <ConfirmButton label="Revoke" confirmLabel={`Revoke ${a.id}?`} disabled={action.busy} onConfirm={() => void revoke(a.id)} testId="agent-revoke" />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="form-row add-form" onSubmit={add} data-testid="agent-add-form">
        <input placeholder="Agent id, e.g. gw-line1" value={id} required onInput={(e) => setId(e.currentTarget.value)} data-testid="agent-add-id" aria-label="New agent id" />
        <input placeholder="Labels, e.g. line=1 area=north" value={labels} onInput={(e) => setLabels(e.currentTarget.value)} data-testid="agent-add-labels" aria-label="New agent labels" />
        <button type="submit" disabled={action.busy} data-testid="agent-add-submit">
          Add agent
        </button>
      </form>
      {problem ? (
        <div class="notice notice-error" role="alert">
          {problem}
        </div>
      ) : null}
    </section>
  );
}
