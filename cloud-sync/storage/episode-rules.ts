import type { Episode } from '../../shared/episode.js';
import type { Resolution, StoredEpisode, VersionPerformance } from './hub-storage.js';

/**
 * How the hub orders, filters and accepts episodes, whatever the backend:
 * PostgreSQL must answer exactly like LMDB (the shared suite checks both).
 */

/** listEpisodes without a limit returns this many. */
export const DEFAULT_EPISODE_LIMIT = 100;

/**
 * The list's first sort key: unresolved episodes that reached the alarm
 * threshold (0), other unresolved ones (1), resolved ones (2). Within a rank
 * the newest start comes first.
 */
export function episodeRank(episode: Pick<Episode, 'peakScore' | 'thresholds'>, resolution: Resolution | null): 0 | 1 | 2 {
  if (resolution !== null) return 2;
  return episode.peakScore >= episode.thresholds.alarm ? 0 : 1;
}

/** Whether [start, end] (end null: still open, so unbounded) overlaps [from, to]. */
export function overlaps(start: number, end: number | null, from: number | undefined, to: number | undefined): boolean {
  if (to !== undefined && start > to) return false;
  if (from !== undefined && end !== null && end < from) return false;
  return true;
}

/**
 * The words of a text search (`q`): lower-cased, split at white space. Empty
 * when there is nothing to search for.
 */
export function searchWords(q: string | undefined): string[] {
  return (q ?? '').toLowerCase().split(/\s+/).filter((word) => word !== '');
}

/**
 * Whether every word appears, case-insensitively, in one of the fields people
 * search episodes by: gateway, model, version, top tags, and the answer
 * (label, cause, note, who answered). A word never spans two fields.
 * Both backends decide with this function, so they answer alike.
 */
export function matchesSearch(stored: StoredEpisode, words: readonly string[]): boolean {
  if (words.length === 0) return true;
  const { episode, resolution } = stored;
  // isEpisode does not check topTags: an agent's malformed list must not fail the search.
  const tags: unknown[] = Array.isArray(episode.topTags) ? episode.topTags : [];
  const tagNames = tags.map((t) => (typeof t === 'object' && t !== null && typeof (t as { tag?: unknown }).tag === 'string' ? (t as { tag: string }).tag : ''));
  const fields = [episode.agent, episode.model, episode.version, ...tagNames];
  if (resolution) fields.push(resolution.label, resolution.cause ?? '', resolution.note ?? '', resolution.by);
  const haystack = fields.map((field) => field.toLowerCase()).join('\n');
  return words.every((word) => haystack.includes(word));
}

/**
 * The fields the hub relies on, checked before an `episodes` record updates
 * the table. A record that fails is still stored as a record (the agent's
 * outbox must drain), it just does not become an episode.
 */
export function isEpisode(body: unknown): body is Episode {
  if (typeof body !== 'object' || body === null) return false;
  const e = body as Partial<Record<keyof Episode, unknown>>;
  const thresholds = e.thresholds as { warn?: unknown; alarm?: unknown } | null | undefined;
  return (
    typeof e.id === 'string' &&
    typeof e.revision === 'number' &&
    typeof e.agent === 'string' &&
    typeof e.model === 'string' &&
    typeof e.version === 'string' &&
    typeof e.start === 'number' &&
    (e.end === null || typeof e.end === 'number') &&
    typeof e.peakScore === 'number' &&
    typeof thresholds === 'object' &&
    thresholds !== null &&
    typeof thresholds.alarm === 'number' &&
    typeof thresholds.warn === 'number'
  );
}

/** versionPerformance order: by model, then version with numeric parts compared as numbers (1.10.0 after 1.9.0). */
export function compareVersionPerformance(a: VersionPerformance, b: VersionPerformance): number {
  if (a.model !== b.model) return a.model < b.model ? -1 : 1;
  return a.version.localeCompare(b.version, 'en', { numeric: true });
}

export function emptyPerformance(model: string, version: string): VersionPerformance {
  return { model, version, episodes: 0, real: 0, normal: 0, unsure: 0, unresolved: 0, firstStart: null, lastStart: null };
}

/** Adds one episode to its version's figures. */
export function countEpisode(perf: VersionPerformance, start: number, label: Resolution['label'] | null): void {
  perf.episodes++;
  if (label === null) perf.unresolved++;
  else perf[label]++;
  perf.firstStart = perf.firstStart === null ? start : Math.min(perf.firstStart, start);
  perf.lastStart = perf.lastStart === null ? start : Math.max(perf.lastStart, start);
}
