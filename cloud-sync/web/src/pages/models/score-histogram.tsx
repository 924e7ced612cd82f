import { api } from '../../api/api-client.js';
import { isNotServed } from '../../api/api-error.js';
import type { ScoreHistogram as Histogram } from '../../api/api-types.js';
import { ErrorNotice } from '../../components/error-notice.js';
import { formatCount, formatScore } from '../../format/number-format.js';
import { usePolled } from '../../hooks/use-polled.js';

/**
 * A version's score distribution as small CSS bars: a version whose mass sits
 * further right raises more alarms. Bar heights are relative to the version's
 * own largest bin; hover a bar for its range and count.
 */
export function ScoreHistogram({ model, version }: { model: string; version: string }) {
  const path = `/api/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}/scores/histogram`;
  const histogram = usePolled(() => api.get<Histogram>(path), [path], null);
  if (isNotServed(histogram.error)) return <span class="muted small">not available</span>;
  if (histogram.error) return <ErrorNotice error={histogram.error} />;
  const h = histogram.data;
  if (!h) return <span class="muted small">…</span>;
  if (h.total === 0 || h.bins.length === 0) return <span class="muted small">no scores yet</span>;
  const max = Math.max(...h.bins.map((b) => b.count), 1);
  const first = h.bins[0]!;
  const last = h.bins[h.bins.length - 1]!;
  return (
    <div class="histogram" data-testid="score-histogram" data-model={model} data-version={version}>
      <div class="histogram-bars">
        {h.bins.map((b) => (
          <div class="histogram-bar" style={{ height: `${Math.max(b.count > 0 ? 4 : 0, (b.count / max) * 100)}%` }} title={`${formatScore(b.lo)} – ${formatScore(b.hi)}: ${formatCount(b.count)}`} key={b.lo} />
        ))}
      </div>
      <div class="histogram-axis small muted">
        <span>{formatScore(first.lo)}</span>
        <span>n = {formatCount(h.total)}</span>
        <span data-testid="alarms-per-day" title="alarm windows per day of scored time over this version's life, shadow scores included; open a shadow deployment to compare it with the active version on the same windows">
          {h.alarmsPerDay === null ? '' : `${formatCount(h.alarmsPerDay)} alarms/day`}
        </span>
        <span>{formatScore(last.hi)}</span>
      </div>
    </div>
  );
}
