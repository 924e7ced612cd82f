import type { Episode, EpisodeScores } from '../api/api-types.js';

/**
 * The scores an episode carries itself (`episode.scores`, the agent's active
 * scores over the span, downsampled like the snapshot) in the shape of
 * `GET /api/episodes/:id/scores`; undefined when the episode has none.
 */
export function scoresFromEpisode(episode: Pick<Episode, 'scores' | 'thresholds' | 'version'>): EpisodeScores | undefined {
  const carried = episode.scores;
  if (!carried || carried.ts.length === 0) return undefined;
  const scores: EpisodeScores['scores'] = [];
  carried.ts.forEach((t, i) => {
    const score = carried.values[i];
    if (score !== null && score !== undefined) scores.push({ start: t, end: t, score, level: '', version: episode.version, shadow: false });
  });
  return { thresholds: episode.thresholds, scores };
}
