import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { api } from '../../api/api-client.js';
import { asApiError, type ApiError } from '../../api/api-error.js';
import type { DeploymentSummary } from '../../api/api-types.js';
import { ConfirmButton } from '../../components/confirm-button.js';
import { ErrorNotice } from '../../components/error-notice.js';
import { formatDuration, formatWhen } from '../../format/time-format.js';
import { useSession } from '../../session/session-context.js';
import { DeploymentTargets } from './deployment-targets.js';
import { describeSelector, STATUS_ORDER, statusClass } from './deployment-status.js';
import { ShadowComparison } from './shadow-comparison.js';

interface DeploymentsTableProps {
  deployments: readonly DeploymentSummary[];
  onChanged: () => void;
}

/** Deployments, newest first, with per-gateway status counts; a row opens its gateways (and a shadow's comparison with the active version); admins roll back. */
export function DeploymentsTable({ deployments, onChanged }: DeploymentsTableProps) {
  const { isAdmin } = useSession();
  const [open, setOpen] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState<string | null>(null);

  const rollback = async (id: string) => {
    setBusy(id);
    setError(undefined);
    try {
      const created = await api.post<{ id: string }>(`/api/deployments/${encodeURIComponent(id)}/rollback`);
      setOpen(created.id);
      onChanged();
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(null);
    }
  };

  return (
    <>
      <ErrorNotice error={error} context="Roll back" />
      <table class="table deployments-table" data-testid="deployments-table">
        <thead>
          <tr>
            <th>Started</th>
            <th>Model</th>
            <th>Mode</th>
            <th>Targets</th>
            <th>State</th>
            <th>Gateways by status</th>
            <th>By</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {deployments.map((d) => (
            <Fragment key={d.id}>
              <tr class="clickable" onClick={() => setOpen(open === d.id ? null : d.id)} data-testid="deployment-row" data-deployment-id={d.id} data-state={d.state}>
                <td title={d.id}>{formatWhen(d.createdAt)}</td>
                <td>
                  {d.model} <strong>{d.version}</strong>
                  {d.rollbackOf ? <div class="small muted">rollback of {d.rollbackOf}</div> : null}
                </td>
                <td>{d.mode === 'shadow' ? `shadow ${d.shadowMs === null ? '' : formatDuration(d.shadowMs)}` : 'activate'}{d.canary !== null ? `, canary ${d.canary}` : ''}</td>
                <td class="small">{describeSelector(d.selector)}</td>
                <td>
                  <span class={`badge ${statusClass(d.state)}`}>{d.state.replace('_', ' ')}</span>
                  {d.reason ? <div class="small cell-reason">{d.reason}</div> : null}
                </td>
                <td>
                  {STATUS_ORDER.filter((s) => d.counts[s]).map((s) => (
                    <span class={`badge ${statusClass(s)}`} key={s}>
                      {d.counts[s]} {s}
                    </span>
                  ))}
                  <span class="muted small"> of {d.agents}</span>
                </td>
                <td class="small">{d.createdBy}</td>
                <td onClick={(e) => e.stopPropagation()}>
                  {isAdmin && d.state !== 'rolled_back' && d.rollbackOf === null ? (
                    <ConfirmButton label="Roll back" confirmLabel="Really roll back?" disabled={busy === d.id} onConfirm={() => void rollback(d.id)} testId="rollback-button" />
                  ) : null}
                </td>
              </tr>
              {open === d.id ? (
                <tr class="row-detail">
                  <td colSpan={8}>
                    {d.mode === 'shadow' ? <ShadowComparison id={d.id} /> : null}
                    <DeploymentTargets id={d.id} />
                  </td>
                </tr>
              ) : null}
            </Fragment>
          ))}
        </tbody>
      </table>
    </>
  );
}
