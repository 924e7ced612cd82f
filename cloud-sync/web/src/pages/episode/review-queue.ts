import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

/**
 * The episodes the user was looking at, in list order: `j`/`k` on an episode
 * page step through them. The episodes page sets it; opened directly, an
 * episode page falls back to the unresolved queue.
 */
export interface ReviewQueue {
  ids: readonly string[];
  setIds: (ids: readonly string[]) => void;
}

export const ReviewQueueContext = createContext<ReviewQueue>({ ids: [], setIds: () => {} });

export function useReviewQueue(): ReviewQueue {
  return useContext(ReviewQueueContext);
}

/** The neighbour of `id` in the queue (+1 next, −1 previous), or undefined at either end. */
export function neighbour(ids: readonly string[], id: string, step: 1 | -1): string | undefined {
  const at = ids.indexOf(id);
  if (at === -1) return step === 1 ? ids[0] : undefined;
  return ids[at + step];
}
