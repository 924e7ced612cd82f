import type { EpisodeSummary } from '../../api/api-types.js';
import { formatScore } from '../../format/number-format.js';
import { formatAge, formatDateTime, formatDuration } from '../../format/time-format.js';
import { episodeHref, navigate } from '../../routing/route.js';
import { LABEL_TEXT } from './resolution-text.js';
import { severityOf } from './severity.js';
import { TopTags } from './top-tags.js';

/** One episode in the list; the whole row opens it. */
export function EpisodeRow({ entry, now }: { entry: EpisodeSummary; now: number }) {
  const { episode, resolution } = entry;
  const severity = severityOf(episode);
  const href = episodeHref(episode.id);
  return (
    <tr class={`episode-row clickable severity-${severity}`} onClick={() => navigate(href)} data-testid="episode-row" data-episode-id={episode.id} data-severity={severity}>
      <td>
        <span class={`badge badge-${severity}`}>{severity === 'alarm' ? 'Alarm' : 'Warn'}</span>
      </td>
      <td>
        <a href={href} onClick={(e) => e.stopPropagation()}>
          {episode.agent}
        </a>
      </td>
      <td>
        {episode.model} <span class="muted">{episode.version}</span>
      </td>
      <td title={formatDateTime(episode.start)}>
        {formatDateTime(episode.start).slice(0, 16)} <span class="muted">({formatAge(episode.start, now)})</span>
      </td>
      <td>{episode.end === null ? <span class="ongoing">ongoing {formatDuration(now - episode.start)}</span> : formatDuration(episode.end - episode.start)}</td>
      <td class="num">{formatScore(episode.peakScore)}</td>
      <td class="cell-tags">
        <TopTags tags={episode.topTags} />
      </td>
      <td data-testid="episode-answer">
        {resolution ? (
          <span title={`${resolution.by}, ${formatDateTime(resolution.at)}${resolution.note ? `\n${resolution.note}` : ''}`}>
            <span class={`badge badge-label-${resolution.label}`}>{LABEL_TEXT[resolution.label]}</span>
            {resolution.cause ? <span> {resolution.cause}</span> : null}
          </span>
        ) : (
          <span class="muted">waiting</span>
        )}
      </td>
    </tr>
  );
}
