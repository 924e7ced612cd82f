import type { Resolution } from '../../api/api-types.js';
import { formatAge, formatDateTime } from '../../format/time-format.js';
import { LABEL_TEXT } from '../episodes/resolution-text.js';

/** The answer already given: what, why, who and when. */
export function ResolutionSummary({ resolution }: { resolution: Resolution | null }) {
  if (!resolution) return <p class="muted" data-testid="resolution-summary">Not answered yet.</p>;
  return (
    <div class="resolution-summary" data-testid="resolution-summary" data-label={resolution.label}>
      <span class={`badge badge-label-${resolution.label}`}>{LABEL_TEXT[resolution.label]}</span>
      {resolution.cause ? <span> — cause: {resolution.cause}</span> : null}
      <div class="muted">
        answered by <strong>{resolution.by}</strong> on {formatDateTime(resolution.at)} ({formatAge(resolution.at)})
      </div>
      {resolution.note ? <blockquote class="note">{resolution.note}</blockquote> : null}
    </div>
  );
}
