import type { Episode, TagSnapshot } from '../../shared/episode.js';
import { scoreSeriesTag } from '../../shared/episode.js';
import type { HubProcess } from './hub-process.js';
import { batch, connectSync, hello } from './raw-sync-client.js';

const STEP_MS = 5_000;
const MIN = 60_000;

/**
 * A closed episode as an agent sends it: raw values of every tag from
 * 10 minutes before to 2 minutes after (a bump during the episode) and the
 * model's scores rising above the alarm threshold during it. Deterministic,
 * so plots always have something to draw.
 */
export function syntheticEpisode(o: { agent: string; model: string; version: string; start: number; end: number; tags: string[]; peak: number }): Episode {
  const snapshot = (tag: string, i: number): TagSnapshot => {
    const s: TagSnapshot = { tag, ts: [], values: [], quality: [] };
    for (let t = o.start - 10 * MIN; t <= o.end + 2 * MIN; t += STEP_MS) {
      const inside = t >= o.start && t <= o.end;
      s.ts.push(t);
      s.values.push(+(10 * (i + 1) + Math.sin(t / 30_000) + (inside ? 5 : 0)).toFixed(3));
      s.quality.push('good');
    }
    return s;
  };
  const scores: TagSnapshot = { tag: scoreSeriesTag(o.model), ts: [], values: [], quality: [] };
  for (let t = o.start - 5 * MIN; t <= o.end + MIN; t += 2 * STEP_MS) {
    const inside = t >= o.start && t <= o.end;
    scores.ts.push(t);
    scores.values.push(inside ? o.peak * (0.8 + 0.2 * Math.sin((Math.PI * (t - o.start)) / (o.end - o.start))) : 0.2);
    scores.quality.push('good');
  }
  return {
    id: `${o.agent}:${o.model}:${o.start}`,
    revision: 1,
    agent: o.agent,
    model: o.model,
    version: o.version,
    start: o.start,
    end: o.end,
    state: 'closed',
    peakScore: o.peak,
    meanScore: o.peak * 0.85,
    windows: Math.round((o.end - o.start) / 10_000),
    topTags: o.tags.map((tag, i) => ({ tag, share: +(0.6 / (i + 1)).toFixed(2) })),
    thresholds: { warn: 0.5, alarm: 0.8 },
    snapshot: o.tags.map(snapshot),
    scores,
  };
}

/**
 * Sends episodes to the hub over the sync protocol as the enrolled agent
 * `agent` would (hello, one batch, its ack), then disconnects.
 */
export async function sendEpisodes(hub: HubProcess, agent: string, token: string, episodes: Episode[]): Promise<void> {
  const client = await connectSync(hub.syncUrl, agent, token);
  try {
    const epoch = `${agent}-epoch`;
    client.send(hello(agent, epoch, { models: [{ name: episodes[0]!.model, active: episodes[0]!.version, shadow: null, previous: null, state: 'scoring' }] }));
    await client.next('welcome');
    client.send(batch('episodes', epoch, 1, episodes));
    const ack = await client.next('ack');
    if (ack.upTo !== episodes.length) throw new Error(`the hub acked up to ${ack.upTo}, not ${episodes.length}: ${JSON.stringify(ack)}`);
  } finally {
    await client.close();
  }
}
