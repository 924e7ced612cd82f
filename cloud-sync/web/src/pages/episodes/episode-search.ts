/** How long typing pauses before the search box asks the hub: one request per pause, not per keystroke. */
export const SEARCH_PAUSE_MS = 400;

/**
 * The search box's text as the hub's `q` (undefined when blank). The hub
 * searches all its episodes, not only the fetched page: every word must
 * appear, in any case, in the gateway, model, version, a top tag, or the
 * answer (real / normal / unsure, cause, note, who answered).
 */
export function searchQuery(search: string): string | undefined {
  const words = search.trim().split(/\s+/).filter((w) => w !== '');
  return words.length === 0 ? undefined : words.join(' ');
}
