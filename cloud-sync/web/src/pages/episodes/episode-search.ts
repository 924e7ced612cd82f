import type { EpisodeSummary } from '../../api/api-types.js';
import { LABEL_TEXT } from './resolution-text.js';

/**
 * The search box filters the fetched page in the browser: every word must
 * appear in the gateway, model, version, tags, answer, cause, note or who
 * answered (case-insensitive).
 */
export function matchesSearch(entry: EpisodeSummary, search: string): boolean {
  const words = search.toLowerCase().split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) return true;
  const { episode, resolution } = entry;
  const haystack = [
    episode.agent,
    episode.model,
    episode.version,
    ...episode.topTags.map((t) => t.tag),
    resolution ? `${resolution.label} ${LABEL_TEXT[resolution.label]} ${resolution.cause ?? ''} ${resolution.note ?? ''} ${resolution.by}` : 'unresolved',
  ]
    .join(' ')
    .toLowerCase();
  return words.every((w) => haystack.includes(w));
}
