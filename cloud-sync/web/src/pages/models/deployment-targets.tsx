import { api } from '../../api/api-client.js';
import type { DeploymentView } from '../../api/api-types.js';
import { ErrorNotice } from '../../components/error-notice.js';
import { formatAge, formatDateTime } from '../../format/time-format.js';
import { usePolled } from '../../hooks/use-polled.js';
import { statusClass } from './deployment-status.js';

/** A deployment gateway by gateway: wave, status, reason, the version it returns to on rollback. */
export function DeploymentTargets({ id }: { id: string }) {
  const view = usePolled(() => api.get<DeploymentView>(`/api/deployments/${encodeURIComponent(id)}`), [id], 5_000);
  const now = Date.now();
  return (
    <div class="deployment-targets">
      <ErrorNotice error={view.error} context={`Deployment ${id}`} />
      {view.data ? (
        <table class="table table-inner" data-testid="deployment-targets">
          <thead>
            <tr>
              <th>Gateway</th>
              <th>Wave</th>
              <th>Status</th>
              <th>Version</th>
              <th>Previous</th>
              <th>Shadow until</th>
              <th>Reason</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {view.data.targets.map((t) => (
              <tr key={t.agent} data-testid="deployment-target-row" data-agent-id={t.agent} data-status={t.status}>
                <td>{t.agent}</td>
                <td>{t.wave === 0 ? 'canary' : 'rest'}</td>
                <td>
                  <span class={`badge ${statusClass(t.status)}`}>{t.status}</span>
                </td>
                <td>{t.version ?? '–'}</td>
                <td>{t.previousVersion ?? 'none'}</td>
                <td>{t.shadowUntil === null ? '–' : `${formatDateTime(t.shadowUntil).slice(11)} (${formatAge(t.shadowUntil, now)})`}</td>
                <td class="cell-reason">{t.reason ?? ''}</td>
                <td class="small">{formatAge(t.updatedAt, now)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted">Loading…</p>
      )}
      {view.data?.reason ? <p class="small">Reason: {view.data.reason}</p> : null}
    </div>
  );
}
