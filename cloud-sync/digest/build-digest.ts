import type { Episode } from '../../shared/episode.js';
import type { HubStorage, StoredEpisode } from '../storage/hub-storage.js';

/** An episode waiting for an answer, as a digest lists it: the episode without its snapshot. */
export type DigestEpisode = Omit<Episode, 'snapshot'> & {
  /** alarm: the peak reached the alarm threshold; warn otherwise. */
  severity: 'alarm' | 'warn';
  firstReceivedAt: number;
  /** The episode in the web app (webhook payloads, when web.publicUrl is set). */
  url?: string;
};

export interface Digest {
  generatedAt: number;
  /** Episodes without a resolution. */
  waiting: number;
  /** Most waiting first. */
  byModel: Array<{ model: string; waiting: number }>;
  /** Event-time start of the oldest episode still waiting, ms; null when none waits. */
  oldestWaitingSince: number | null;
  /** Up to maxEpisodes, highest severity first, then newest (the storage's list order). */
  episodes: DigestEpisode[];
}

/** What the webhook receives: the digest plus where it comes from and links into the web app. */
export interface DigestMessage extends Digest {
  hub: string;
  /** The episodes page of the web app, when web.publicUrl is set. */
  url?: string;
}

/** Unresolved episodes are read in pages of this many (counting needs them all, listing only the first few). */
const PAGE = 1000;

export async function buildDigest(storage: HubStorage, maxEpisodes: number, now = Date.now()): Promise<Digest> {
  const byModel = new Map<string, number>();
  const episodes: DigestEpisode[] = [];
  let waiting = 0;
  let oldest: number | null = null;
  for (let offset = 0; ; offset += PAGE) {
    const page = await storage.listEpisodes({ status: 'unresolved', limit: PAGE, offset });
    for (const stored of page) {
      const { episode } = stored;
      waiting++;
      byModel.set(episode.model, (byModel.get(episode.model) ?? 0) + 1);
      oldest = oldest === null ? episode.start : Math.min(oldest, episode.start);
      if (episodes.length < maxEpisodes) episodes.push(digestEpisode(stored));
    }
    if (page.length < PAGE) break;
  }
  return {
    generatedAt: now,
    waiting,
    byModel: [...byModel].map(([model, count]) => ({ model, waiting: count })).sort((a, b) => b.waiting - a.waiting || (a.model < b.model ? -1 : 1)),
    oldestWaitingSince: oldest,
    episodes,
  };
}

export function digestMessage(digest: Digest, hubId: string, publicUrl: string | undefined): DigestMessage {
  if (publicUrl === undefined) return { ...digest, hub: hubId };
  // The web app routes in the hash: #/episodes, #/episodes/<id>.
  const base = publicUrl.endsWith('/') ? publicUrl : `${publicUrl}/`;
  return {
    ...digest,
    hub: hubId,
    url: `${base}#/episodes`,
    episodes: digest.episodes.map((e) => ({ ...e, url: `${base}#/episodes/${encodeURIComponent(e.id)}` })),
  };
}

function digestEpisode(stored: StoredEpisode): DigestEpisode {
  const { snapshot: _snapshot, ...episode } = stored.episode;
  return { ...episode, severity: episode.peakScore >= episode.thresholds.alarm ? 'alarm' : 'warn', firstReceivedAt: stored.firstReceivedAt };
}
