import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Episode } from '../../shared/episode.js';
import { api, startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { batch, connectSync, hello } from '../helpers/raw-sync-client.js';

let hub: HubProcess;
let admin: string;
let operator: string;
let viewer: string;

const T0 = Date.UTC(2025, 2, 1, 8);
const HOUR = 3_600_000;

function episode(id: string, overrides: Partial<Episode>): Episode {
  return {
    id: `gw-ep:pump-pca:${id}`,
    revision: 1,
    agent: 'gw-ep',
    model: 'pump-pca',
    version: '1.0.0',
    start: T0,
    end: null,
    state: 'open',
    peakScore: 0.9,
    meanScore: 0.7,
    windows: 3,
    topTags: [{ tag: 'pump1.temp', share: 0.8 }],
    thresholds: { warn: 0.5, alarm: 0.8 },
    snapshot: [{ tag: 'pump1.temp', ts: [T0, T0 + 1000], values: [71.5, 74.25], quality: ['good', 'good'] }],
    scores: { tag: 'score:pump-pca', ts: [T0 + 1000, T0 + 2000, T0 + 3000], values: [0.3, 0.9, null], quality: ['good', 'good', 'good'] },
    ...overrides,
  };
}

const e1 = episode('a', { start: T0 + 3 * HOUR, peakScore: 0.95 });
const e1closed = { ...e1, revision: 2, state: 'closed' as const, end: T0 + 3 * HOUR + 60_000, windows: 9 };
const e2 = episode('b', { start: T0 + 2 * HOUR, peakScore: 0.6 });
const e3 = episode('c', { start: T0 + HOUR, end: T0 + HOUR + 60_000, state: 'closed', version: '2.0.0' });
const path = (e: Episode) => `/api/episodes/${encodeURIComponent(e.id)}`;
const ids = (list: { episodes: Array<{ episode: Episode }> }) => list.episodes.map((s) => s.episode.id);

beforeAll(async () => {
  hub = await startHubProcess();
  [admin, operator, viewer] = await Promise.all([hub.addApiToken('admin', 'admin'), hub.addApiToken('op-anna', 'operator'), hub.addApiToken('viewer-vic', 'viewer')]);
  const { token } = (await api(hub.url, '/api/agents', { token: admin, body: { id: 'gw-ep' } })).json;
  const client = await connectSync(hub.syncUrl, 'gw-ep', token);
  client.send(hello('gw-ep', 'ep-epoch'));
  await client.next('welcome');
  client.send(batch('episodes', 'ep-epoch', 1, [e1, e2]));
  client.send(batch('episodes', 'ep-epoch', 3, [e1closed, e3]));
  // An older revision arriving late changes nothing.
  client.send(batch('episodes', 'ep-epoch', 5, [{ ...e1, windows: 1 }]));
  client.send(batch('events', 'ep-epoch', 1, [{ kind: 'model_activated', at: T0, agent: 'gw-ep', subject: 'pump-pca', message: 'pump-pca 1.0.0 active' }]));
  for (const upTo of [2, 4, 5, 1]) expect((await client.next('ack')).upTo).toBe(upTo);
  await client.close();
});

afterAll(async () => {
  await hub?.stop();
});

describe('episodes API', () => {
  it('lists episodes without snapshots, unresolved alarms first, newest first, and filters them', async () => {
    const list = await api(hub.url, '/api/episodes', { token: viewer });
    expect(list.status).toBe(200);
    expect(ids(list.json)).toEqual([e1.id, e3.id, e2.id]);
    expect(list.json.episodes[0].episode.snapshot).toBeUndefined();
    expect(list.json.episodes[0].episode.scores).toBeUndefined();
    expect(list.json.episodes[0]).toMatchObject({ episode: { revision: 2, state: 'closed', windows: 9 }, resolution: null });

    expect(ids((await api(hub.url, '/api/episodes?version=2.0.0', { token: viewer })).json)).toEqual([e3.id]);
    expect(ids((await api(hub.url, '/api/episodes?agent=gw-other', { token: viewer })).json)).toEqual([]);
    const window = `from=${new Date(T0 + 2 * HOUR - 1).toISOString()}&to=${T0 + 2 * HOUR + 1}`;
    expect(ids((await api(hub.url, `/api/episodes?${window}`, { token: viewer })).json)).toEqual([e2.id]);
    expect(ids((await api(hub.url, '/api/episodes?limit=1&offset=1', { token: viewer })).json)).toEqual([e3.id]);
  });

  it('returns one episode with its snapshot', async () => {
    const one = await api(hub.url, path(e1), { token: viewer });
    expect(one.status).toBe(200);
    expect(one.json.episode).toEqual(e1closed);
    expect((await api(hub.url, '/api/episodes/gw-ep%3Apump-pca%3Anope', { token: viewer })).json.error.code).toBe('VIGIL_API_NOT_FOUND');
  });

  it('returns the score series an episode carries, judged by its thresholds, for the plot', async () => {
    const scores = await api(hub.url, `${path(e2)}/scores`, { token: viewer });
    expect(scores.status).toBe(200);
    expect(scores.json).toEqual({
      thresholds: { warn: 0.5, alarm: 0.8 },
      scores: [
        { start: T0 + 1000, end: T0 + 1000, score: 0.3, level: 'normal', version: '1.0.0', shadow: false },
        { start: T0 + 2000, end: T0 + 2000, score: 0.9, level: 'alarm', version: '1.0.0', shadow: false },
      ],
    });
  });

  it('resolves an episode for an operator, naming who and when; viewers may not', async () => {
    const denied = await api(hub.url, `${path(e1)}/resolution`, { token: viewer, body: { label: 'real' } });
    expect(denied.status).toBe(403);

    const badLabel = await api(hub.url, `${path(e1)}/resolution`, { token: operator, body: { label: 'maybe' } });
    expect(badLabel.status, badLabel.text).toBe(400);
    expect(badLabel.json.error).toMatchObject({ code: 'VIGIL_API_BAD_REQUEST', message: expect.stringMatching(/^label: /) });
    const causeOnNormal = await api(hub.url, `${path(e1)}/resolution`, { token: operator, body: { label: 'normal', cause: 'x' } });
    expect(causeOnNormal.json.error.message).toMatch(/^cause: /);
    const extra = await api(hub.url, `${path(e1)}/resolution`, { token: operator, body: { label: 'real', who: 'me' } });
    expect(extra.json.error.message).toMatch(/unknown field who/);
    expect((await api(hub.url, '/api/episodes/nope/resolution', { token: operator, body: { label: 'real' } })).status).toBe(404);

    const before = Date.now();
    const resolved = await api(hub.url, `${path(e1)}/resolution`, { token: operator, body: { label: 'real', cause: 'bearing wear', note: 'replaced on the 3rd' } });
    expect(resolved.status, resolved.text).toBe(200);
    expect(resolved.json.resolution).toMatchObject({ label: 'real', cause: 'bearing wear', note: 'replaced on the 3rd', by: 'op-anna' });
    expect(resolved.json.resolution.at).toBeGreaterThanOrEqual(before);

    expect(ids((await api(hub.url, '/api/episodes?status=resolved', { token: viewer })).json)).toEqual([e1.id]);
    expect(ids((await api(hub.url, '/api/episodes?status=unresolved', { token: viewer })).json)).toEqual([e3.id, e2.id]);
    expect(ids((await api(hub.url, '/api/episodes', { token: viewer })).json)).toEqual([e3.id, e2.id, e1.id]);
    expect((await api(hub.url, path(e1), { token: viewer })).json.resolution.by).toBe('op-anna');
  });

  it('reports performance per model version', async () => {
    const normal = await api(hub.url, `${path(e2)}/resolution`, { token: operator, body: { label: 'normal' } });
    expect(normal.status, normal.text).toBe(200);
    const perf = await api(hub.url, '/api/models/performance?model=pump-pca', { token: viewer });
    expect(perf.status).toBe(200);
    expect(perf.json.versions).toEqual([
      expect.objectContaining({ model: 'pump-pca', version: '1.0.0', episodes: 2, real: 1, normal: 1, unresolved: 0, episodesPerDay: 2, realShare: 0.5, normalShare: 0.5, resolvedShare: 1 }),
      expect.objectContaining({ version: '2.0.0', episodes: 1, unresolved: 1, realShare: 0, resolvedShare: 0 }),
    ]);
    expect((await api(hub.url, '/api/models/performance?model=other', { token: viewer })).json.versions).toEqual([]);
  });

  it('searches with q: the answer, tags, gateway and version, every word in any case, with the other filters', async () => {
    // Now e1 is real (cause "bearing wear", note "replaced on the 3rd"), e2 normal, both by op-anna; e3 unresolved.
    const search = async (query: Record<string, string>) => {
      const response = await api(hub.url, `/api/episodes?${new URLSearchParams(query)}`, { token: viewer });
      expect(response.status).toBe(200);
      return ids(response.json);
    };
    expect(await search({ q: 'Bearing' })).toEqual([e1.id]);
    expect(await search({ q: 'REPLACED wear' })).toEqual([e1.id]);
    expect(await search({ q: 'op-anna', status: 'resolved' })).toEqual([e1.id, e2.id]);
    expect(await search({ q: 'normal' })).toEqual([e2.id]);
    expect(await search({ q: 'PUMP1.TEMP', status: 'unresolved' })).toEqual([e3.id]);
    expect(await search({ q: 'gw-ep', version: '2.0.0' })).toEqual([e3.id]);
    expect(await search({ q: 'bearing normal' })).toEqual([]);
    expect(await search({ q: 'op-anna', limit: '1', offset: '1' })).toEqual([e2.id]);
    expect(await search({ q: '' })).toEqual([e3.id, e1.id, e2.id]);
  });

  it('shows raw records for inspection', async () => {
    const episodes = await api(hub.url, '/api/records/episodes?agent=gw-ep&limit=2', { token: viewer });
    expect(episodes.json.total).toBe(5);
    expect(episodes.json.records.map((r: { seq: number }) => r.seq)).toEqual([5, 4]);
    const events = await api(hub.url, '/api/records/events', { token: viewer });
    expect(events.json.records[0].body).toMatchObject({ kind: 'model_activated', subject: 'pump-pca' });
  });

  it('names the bad query parameter', async () => {
    for (const [query, field] of [['limit=0', 'limit'], ['from=yesterday', 'from'], ['status=open', 'status'], [`q=${'x'.repeat(501)}`, 'q'], ['bogus=1', 'query']] as const) {
      const response = await api(hub.url, `/api/episodes?${query}`, { token: viewer });
      expect(response.status).toBe(400);
      expect(response.json.error.message).toMatch(new RegExp(`^${field}: `));
    }
    const stream = await api(hub.url, '/api/records/nope', { token: viewer });
    expect(stream.status).toBe(400);
    expect(stream.json.error.message).toMatch(/^stream: /);
  });
});
