import { formatShare } from '../../format/number-format.js';
import type { Episode } from '../../api/api-types.js';

/** The tags that contributed most, with their share of the anomaly. */
export function TopTags({ tags, max = 3 }: { tags: Episode['topTags']; max?: number }) {
  if (tags.length === 0) return <span class="muted">–</span>;
  const shown = tags.slice(0, max);
  return (
    <span class="top-tags" title={tags.map((t) => `${t.tag} ${formatShare(t.share)}`).join('\n')}>
      {shown.map((t) => (
        <span class="tag-chip" key={t.tag}>
          {t.tag} <span class="tag-share">{formatShare(t.share)}</span>
        </span>
      ))}
      {tags.length > max ? <span class="muted"> +{tags.length - max}</span> : null}
    </span>
  );
}
