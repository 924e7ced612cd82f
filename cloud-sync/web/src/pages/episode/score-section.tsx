import { useMemo } from 'preact/hooks';
import { api } from '../../api/api-client.js';
import { isNotServed } from '../../api/api-error.js';
import type { Episode, EpisodeScores } from '../../api/api-types.js';
import { ErrorNotice } from '../../components/error-notice.js';
import { usePolled } from '../../hooks/use-polled.js';
import type { PlotFrame } from '../../plots/plot-frame.js';
import { ScorePlot } from '../../plots/score-plot.js';
import { scoresFromEpisode } from '../../plots/scores-from-episode.js';

interface ScoreSectionProps {
  episode: Pick<Episode, 'id' | 'end' | 'scores' | 'thresholds' | 'version'>;
  frame: PlotFrame;
}

/**
 * The model's score around the episode. The hub's stored scores (every
 * version, shadow included) when it has them; otherwise the scores the
 * episode carries itself.
 */
export function ScoreSection({ episode, frame }: ScoreSectionProps) {
  const open = episode.end === null;
  const stored = usePolled(() => api.get<EpisodeScores>(`/api/episodes/${encodeURIComponent(episode.id)}/scores`), [episode.id], open ? undefined : null);
  // Polls return a new object each time; the plot is rebuilt only when the scores changed.
  const last = stored.data?.scores.at(-1);
  const storedStable = useMemo(() => stored.data, [stored.data?.scores.length, last?.end, last?.version, stored.data?.thresholds.alarm, stored.data?.thresholds.warn]);
  const carried = useMemo(() => scoresFromEpisode(episode), [episode]);

  const haveStored = storedStable !== undefined && storedStable.scores.length > 0;
  const shown = haveStored ? storedStable : carried;
  const waiting = stored.loading && storedStable === undefined && !carried;
  return (
    <section class="plot-section">
      <h2>
        Score{' '}
        {!haveStored && carried ? <span class="muted small">(active version, as the episode carries it)</span> : null}
      </h2>
      {stored.error && !isNotServed(stored.error) ? <ErrorNotice error={stored.error} context="Scores" /> : null}
      {shown ? (
        <ScorePlot scores={shown} frame={frame} />
      ) : waiting ? (
        <p class="muted">Loading scores…</p>
      ) : (
        <p class="muted" data-testid="scores-empty">
          {isNotServed(stored.error) ? 'Scores are not available on this hub for this episode.' : 'No scores stored for this span.'}
        </p>
      )}
    </section>
  );
}
