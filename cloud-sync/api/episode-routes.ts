import { z } from 'zod';
import { VigilError } from '../../shared/errors.js';
import type { Episode } from '../../shared/episode.js';
import { levelOf } from '../../shared/model-manifest.js';
import { SYNC_STREAMS } from '../../shared/sync-protocol.js';
import { RESOLUTION_LABELS, type HubStorage, type StoredEpisode, type VersionPerformance } from '../storage/hub-storage.js';
import type { ApiRoute, Caller } from './api-route.js';
import { limitParam, queryObject, timeParam } from './query-params.js';
import { validateInput } from './validate-input.js';

const EpisodeQuerySchema = z.strictObject({
  status: z.enum(['unresolved', 'resolved', 'all']).default('all'),
  agent: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  version: z.string().min(1).optional(),
  from: timeParam.optional(),
  to: timeParam.optional(),
  // Words that must all appear in the gateway, model, version, a top tag or the answer (episode-rules.ts).
  q: z.string().max(500).optional(),
  limit: limitParam(100, 1000),
  offset: z.coerce.number().int().min(0).default(0),
});

const ResolutionSchema = z
  .strictObject({
    label: z.enum(RESOLUTION_LABELS),
    cause: z.string().trim().min(1).max(500).optional(),
    note: z.string().max(4000).optional(),
  })
  .refine((r) => r.cause === undefined || r.label === 'real', { path: ['cause'], message: 'a cause goes only with label real' });

const RecordQuerySchema = z.strictObject({
  agent: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  from: timeParam.optional(),
  to: timeParam.optional(),
  // Raw records are for inspection and audits (is every seq there?): larger pages than episodes.
  limit: limitParam(100, 20_000),
});

const DAY_MS = 86_400_000;

/** Episodes (what people judge), their resolutions, model performance per version, and raw records for inspection. */
export function episodeRoutes(deps: { storage: HubStorage }): ApiRoute[] {
  const { storage } = deps;
  return [
    {
      method: 'GET',
      path: '/api/episodes',
      access: 'viewer',
      handle: async (req) => {
        const filter = validateInput(EpisodeQuerySchema, queryObject(req.query), 'query');
        const episodes = await storage.listEpisodes(filter);
        return { status: 200, json: { episodes: episodes.map(withoutSnapshot), limit: filter.limit, offset: filter.offset } };
      },
    },
    {
      method: 'GET',
      path: '/api/episodes/:id',
      access: 'viewer',
      handle: async (req) => {
        const episode = await storage.getEpisode(req.params.id ?? '');
        if (!episode) throw new VigilError('VIGIL_API_NOT_FOUND', `there is no episode ${req.params.id}`);
        return { status: 200, json: episode };
      },
    },
    {
      method: 'GET',
      path: '/api/episodes/:id/scores',
      access: 'viewer',
      handle: async (req) => {
        const stored = await storage.getEpisode(req.params.id ?? '');
        if (!stored) throw new VigilError('VIGIL_API_NOT_FOUND', `there is no episode ${req.params.id}`);
        return { status: 200, json: episodeScores(stored.episode) };
      },
    },
    {
      method: 'POST',
      path: '/api/episodes/:id/resolution',
      access: 'operator',
      handle: async (req) => {
        const body = validateInput(ResolutionSchema, await req.json(), 'body');
        const resolved = await storage.resolveEpisode(req.params.id ?? '', {
          label: body.label,
          cause: body.cause ?? null,
          note: body.note ?? null,
          by: callerName(req.caller),
          at: Date.now(),
        });
        if (!resolved) throw new VigilError('VIGIL_API_NOT_FOUND', `there is no episode ${req.params.id}`);
        return { status: 200, json: withoutSnapshot(resolved) };
      },
    },
    {
      method: 'GET',
      path: '/api/models/performance',
      access: 'viewer',
      handle: async (req) => {
        const { model } = validateInput(z.strictObject({ model: z.string().min(1).optional() }), queryObject(req.query), 'query');
        const rows = await storage.versionPerformance(model);
        return { status: 200, json: { versions: rows.map(performanceView) } };
      },
    },
    {
      method: 'GET',
      path: '/api/records/:stream',
      access: 'viewer',
      handle: async (req) => {
        const { stream } = validateInput(z.strictObject({ stream: z.enum(SYNC_STREAMS) }), { stream: req.params.stream }, 'path');
        const filter = validateInput(RecordQuerySchema, queryObject(req.query), 'query');
        const [total, records] = await Promise.all([storage.countRecords(stream, filter.agent), storage.listRecords(stream, filter)]);
        return { status: 200, json: { stream, total, records } };
      },
    },
  ];
}

function withoutSnapshot(stored: StoredEpisode) {
  const { snapshot: _snapshot, scores: _scores, ...episode } = stored.episode;
  return { ...stored, episode };
}

/**
 * The score plot of an episode: the series its agent sent with it (one point
 * per window of the active version, at the window's end), judged by the
 * episode's thresholds. Episodes from agents that do not send a series have none.
 */
function episodeScores(episode: Episode) {
  const series = episode.scores;
  const scores: Array<{ start: number; end: number; score: number; level: string; version: string; shadow: boolean }> = [];
  if (series) {
    series.ts.forEach((ts, i) => {
      const score = series.values[i];
      if (typeof score === 'number' && Number.isFinite(score)) scores.push({ start: ts, end: ts, score, level: levelOf(score, episode.thresholds), version: episode.version, shadow: false });
    });
  }
  return { thresholds: episode.thresholds, scores };
}

function callerName(caller: Caller): string {
  return caller.kind === 'agent' ? `agent:${caller.id}` : caller.name;
}

/**
 * Adds the rates people compare versions by. Episodes per day spans the first
 * to the last episode start, at least one day (two episodes an hour apart are
 * not 48 a day). Shares are of all the version's episodes; unresolved ones
 * count in neither.
 */
function performanceView(row: VersionPerformance) {
  const spanDays = row.firstStart === null || row.lastStart === null ? 1 : Math.max(DAY_MS, row.lastStart - row.firstStart) / DAY_MS;
  const share = (n: number) => (row.episodes === 0 ? null : n / row.episodes);
  return { ...row, episodesPerDay: row.episodes / spanDays, realShare: share(row.real), normalShare: share(row.normal), resolvedShare: share(row.episodes - row.unresolved) };
}
