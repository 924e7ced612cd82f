import { api } from '../../api/api-client.js';
import type { EpisodeList } from '../../api/api-types.js';
import { usePolled } from '../../hooks/use-polled.js';
import { useReviewQueue } from './review-queue.js';

/**
 * The ids `j`/`k` step through: the list the user came from, or — opened
 * directly by link — the unresolved queue as the hub orders it.
 */
export function useQueueIds(id: string): readonly string[] {
  const queue = useReviewQueue();
  const known = queue.ids.includes(id);
  const fallback = usePolled(
    () => (known ? Promise.resolve([]) : api.get<EpisodeList>('/api/episodes?status=unresolved&limit=1000').then((l) => l.episodes.map((e) => e.episode.id))),
    [known],
    null,
  );
  return known ? queue.ids : (fallback.data ?? []);
}
