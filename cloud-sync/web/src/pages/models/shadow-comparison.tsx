import { api } from '../../api/api-client.js';
import type { ShadowComparisonAnswer, ShadowComparisonSide } from '../../api/api-types.js';
import { isNotServed } from '../../api/api-error.js';
import { ErrorNotice } from '../../components/error-notice.js';
import { NotServed } from '../../components/not-served.js';
import { formatCount } from '../../format/number-format.js';
import { formatDuration } from '../../format/time-format.js';
import { usePolled } from '../../hooks/use-polled.js';

/** The comparison reads up to the record cap per gateway: refreshed now and then, not with the targets' status. */
const REFRESH_MS = 60_000;

const alarms = (s: ShadowComparisonSide) => `${formatCount(s.alarms)} alarm${s.alarms === 1 ? '' : 's'}${s.alarmsPerDay === null ? '' : ` (${formatCount(s.alarmsPerDay)}/day)`}`;

/**
 * A shadow deployment's candidate against the active version on the windows
 * both scored: the false alarms a switch would add or save, measured on the
 * same data before switching.
 */
export function ShadowComparison({ id }: { id: string }) {
  const comparison = usePolled(() => api.get<ShadowComparisonAnswer>(`/api/deployments/${encodeURIComponent(id)}/comparison`), [id], REFRESH_MS);
  if (isNotServed(comparison.error)) return <NotServed what="Shadow comparison" />;
  const c = comparison.data;
  return (
    <div class="shadow-comparison" data-testid="shadow-comparison" data-deployment-id={id}>
      <ErrorNotice error={comparison.error} context="Shadow comparison" />
      {!c ? (
        comparison.error ? null : <p class="muted">Comparing…</p>
      ) : c.windows === 0 ? (
        <p class="muted" data-testid="shadow-comparison-text">
          No windows scored by both versions yet: they are compared once the gateways send the candidate's shadow scores.
        </p>
      ) : (
        <>
          <p data-testid="shadow-comparison-text">
            Same {formatCount(c.windows)} windows: candidate {alarms(c.candidate)} vs active {alarms(c.active)}
          </p>
          <p class="small muted" data-testid="shadow-comparison-detail">
            Candidate {c.candidate.version}, active {c.active.versions.join(', ')}; warn windows {formatCount(c.candidate.warns)} vs {formatCount(c.active.warns)};{' '}
            {formatDuration(c.eventTimeMs)} of event time on {c.gateways.filter((g) => g.windows > 0).length} of {c.gateways.length} gateways.
          </p>
        </>
      )}
      {c?.capped ? (
        <p class="small notice" data-testid="shadow-comparison-capped">
          Only the newest {formatCount(c.recordCap)} score records were read on {c.gateways.filter((g) => g.capped).map((g) => g.agent).join(', ')}: older windows are not
          compared.
        </p>
      ) : null}
    </div>
  );
}
