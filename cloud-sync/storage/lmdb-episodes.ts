import type { EpisodeFilter, Resolution, StoredEpisode, VersionPerformance } from './hub-storage.js';
import {
  DEFAULT_EPISODE_LIMIT,
  compareVersionPerformance,
  countEpisode,
  emptyPerformance,
  episodeRank,
  isEpisode,
  matchesSearch,
  overlaps,
  searchWords,
} from './episode-rules.js';
import { KEY_MAX, durableWrite, type EpisodeIndexEntry, type EpisodeOrderKey, type HubDbs } from './lmdb-layout.js';

/** `0 - start`, not `-start`: -0 would be a different key from 0. */
function orderKey(stored: StoredEpisode): EpisodeOrderKey {
  return [episodeRank(stored.episode, stored.resolution), 0 - stored.episode.start, stored.episode.id];
}

function indexEntry(stored: StoredEpisode): EpisodeIndexEntry {
  const e = stored.episode;
  return { agent: e.agent, model: e.model, version: e.version, start: e.start, end: e.end, label: stored.resolution?.label ?? null };
}

/**
 * The episode table: the latest revision of each episode (snapshot kept
 * apart), its resolution, and an order index whose key is the list order and
 * whose value carries what filters and performance figures need, so neither
 * decodes an episode it does not return.
 */
export class LmdbEpisodes {
  constructor(private readonly dbs: HubDbs) {}

  /**
   * Call inside the ingest transaction for each new `episodes` record. The
   * highest revision wins; an older one arriving later changes nothing, and a
   * resolution survives new revisions. Bodies that are not episodes of the
   * sending agent are ignored (the record itself is still stored).
   */
  applyRevision(body: unknown, agent: string, receivedAt: number): void {
    if (!isEpisode(body) || body.agent !== agent) return;
    const existing = this.dbs.episodes.get(body.id);
    if (existing && (existing.episode.agent !== agent || existing.episode.revision >= body.revision)) return;
    const { snapshot, ...rest } = body;
    const stored: StoredEpisode = {
      episode: { ...rest, snapshot: [] },
      resolution: existing?.resolution ?? null,
      firstReceivedAt: existing?.firstReceivedAt ?? receivedAt,
      updatedAt: receivedAt,
    };
    this.replace(existing, stored);
    this.dbs.snapshots.putSync(body.id, Array.isArray(snapshot) ? snapshot : []);
  }

  get(id: string): StoredEpisode | undefined {
    const stored = this.dbs.episodes.get(id);
    if (!stored) return undefined;
    return { ...stored, episode: { ...stored.episode, snapshot: this.dbs.snapshots.get(id) ?? [] } };
  }

  resolve(id: string, resolution: Resolution): Promise<StoredEpisode | undefined> {
    return durableWrite(this.dbs.env, () => {
      const existing = this.dbs.episodes.get(id);
      if (!existing) return undefined;
      this.replace(existing, { ...existing, resolution });
      return this.get(id);
    });
  }

  /** In list order (see episodeRank), snapshots omitted. */
  list(filter: EpisodeFilter): StoredEpisode[] {
    const status = filter.status ?? 'all';
    const [firstRank, lastRank] = status === 'unresolved' ? [0, 1] : status === 'resolved' ? [2, 2] : [0, 2];
    const limit = filter.limit ?? DEFAULT_EPISODE_LIMIT;
    const words = searchWords(filter.q);
    let skip = filter.offset ?? 0;
    const out: StoredEpisode[] = [];
    if (limit <= 0) return out;
    for (const { key, value } of this.dbs.episodeOrder.getRange({ start: [firstRank], end: [lastRank, KEY_MAX] })) {
      if (filter.agent !== undefined && value.agent !== filter.agent) continue;
      if (filter.model !== undefined && value.model !== filter.model) continue;
      if (filter.version !== undefined && value.version !== filter.version) continue;
      if (!overlaps(value.start, value.end, filter.from, filter.to)) continue;
      // The index carries no tags or answer: a search decodes each candidate (skipped ones too, to count them right).
      const stored = words.length > 0 || skip === 0 ? this.dbs.episodes.get(key[2]) : undefined;
      if (words.length > 0 && (!stored || !matchesSearch(stored, words))) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      if (stored) out.push(stored);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Every version in the registry or with episodes (of one model when given). */
  performance(model?: string): VersionPerformance[] {
    const byVersion = new Map<string, VersionPerformance>();
    const perf = (name: string, version: string): VersionPerformance => {
      const key = JSON.stringify([name, version]);
      let p = byVersion.get(key);
      if (!p) byVersion.set(key, (p = emptyPerformance(name, version)));
      return p;
    };
    const models = model === undefined ? {} : { start: [model], end: [model, KEY_MAX] };
    for (const { key } of this.dbs.models.getRange(models)) perf(key[0], key[1]);
    for (const { value } of this.dbs.episodeOrder.getRange({})) {
      if (model !== undefined && value.model !== model) continue;
      countEpisode(perf(value.model, value.version), value.start, value.label);
    }
    return [...byVersion.values()].sort(compareVersionPerformance);
  }

  private replace(previous: StoredEpisode | undefined, next: StoredEpisode): void {
    if (previous) this.dbs.episodeOrder.removeSync(orderKey(previous));
    this.dbs.episodes.putSync(next.episode.id, next);
    this.dbs.episodeOrder.putSync(orderKey(next), indexEntry(next));
  }
}
