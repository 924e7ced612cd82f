import type { Episode } from '../../api/api-types.js';
import { formatScore } from '../../format/number-format.js';
import { formatAge, formatDateTime, formatDuration } from '../../format/time-format.js';
import { severityOf } from '../episodes/severity.js';
import { TopTags } from '../episodes/top-tags.js';

/** The episode at a glance: where, which model version, when, how long, how high. */
export function EpisodeFacts({ episode, now }: { episode: Episode; now: number }) {
  const severity = severityOf(episode);
  return (
    <section class="card episode-facts" data-testid="episode-facts" data-episode-id={episode.id}>
      <h1>
        <span class={`badge badge-${severity}`}>{severity === 'alarm' ? 'Alarm' : 'Warn'}</span> {episode.agent} · {episode.model} <span class="muted">{episode.version}</span>
      </h1>
      <dl class="facts">
        <dt>Start</dt>
        <dd>
          {formatDateTime(episode.start)} <span class="muted">({formatAge(episode.start, now)})</span>
        </dd>
        <dt>End</dt>
        <dd data-testid="episode-end">{episode.end === null ? <span class="ongoing">ongoing</span> : formatDateTime(episode.end)}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration((episode.end ?? now) - episode.start)}</dd>
        <dt>Peak score</dt>
        <dd>
          {formatScore(episode.peakScore)} <span class="muted">(warn {episode.thresholds.warn}, alarm {episode.thresholds.alarm})</span>
        </dd>
        <dt>Mean score</dt>
        <dd>
          {formatScore(episode.meanScore)} <span class="muted">over {episode.windows} windows</span>
        </dd>
        <dt>Top tags</dt>
        <dd>
          <TopTags tags={episode.topTags} max={6} />
        </dd>
      </dl>
    </section>
  );
}
