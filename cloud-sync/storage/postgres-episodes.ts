import type pg from 'pg';
import type { Episode } from '../../shared/episode.js';
import type { EpisodeFilter, Resolution, StoredEpisode, VersionPerformance } from './hub-storage.js';
import { DEFAULT_EPISODE_LIMIT, compareVersionPerformance, emptyPerformance, episodeRank, isEpisode, matchesSearch, searchWords } from './episode-rules.js';
import { Conditions, run } from './postgres-sql.js';

interface EpisodeRow {
  episode: string;
  snapshot?: string;
  resolution: Resolution | null;
  first_received_at: number;
  updated_at: number;
}

/** A listed row with the columns of the list order, where a search continues. */
interface OrderedRow extends EpisodeRow {
  rank: number;
  start: number;
  id: string;
}

/** Rows fetched per query while a text search filters them. */
const SEARCH_CHUNK = 500;

/**
 * Words the database may narrow a search with: printable ASCII without `"`
 * and `\`, which appear unchanged in the stored JSON text (JSON escapes only
 * those and control characters) and which lower() in the C collation folds
 * like JavaScript does, whatever the database's locale.
 */
const NARROWING_WORD = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

interface PerformanceRow {
  model: string;
  version: string;
  episodes: number;
  real: number;
  normal: number;
  unsure: number;
  unresolved: number;
  first_start: number | null;
  last_start: number | null;
}

/**
 * The episode table: the latest revision of each episode (its snapshot in a
 * column of its own, which lists never select), its resolution, and the
 * columns lists filter and sort on. `rank` is the list's first sort key
 * (episode-rules.ts), kept up to date on every write.
 */
export class PostgresEpisodes {
  constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
  ) {}

  /**
   * Inside the ingest transaction, with the bodies of the new `episodes`
   * records. Only episodes of the sending agent count; the highest revision
   * wins (also against a revision another replica stores at the same time:
   * the upsert compares inside the database), and the resolution and
   * firstReceivedAt survive.
   */
  async applyRevisions(client: pg.PoolClient, agent: string, bodies: readonly unknown[], receivedAt: number): Promise<void> {
    const latest = new Map<string, Episode>();
    for (const body of bodies) {
      if (!isEpisode(body) || body.agent !== agent || hasNul(body)) continue;
      const seen = latest.get(body.id);
      if (!seen || body.revision > seen.revision) latest.set(body.id, body);
    }
    if (latest.size === 0) return;
    const episodes = [...latest.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const col = <T>(pick: (e: Episode) => T) => episodes.map(pick);
    await client.query(
      `INSERT INTO ${this.s}.episodes AS e (id, agent, model, version, start, "end", rank, label, revision, episode, snapshot, resolution, first_received_at, updated_at)
       SELECT r.id, $1, r.model, r.version, r.start, r."end", r.rank, NULL, r.revision, r.episode, r.snapshot, NULL, $2, $2
       FROM unnest($3::text[], $4::text[], $5::text[], $6::float8[], $7::float8[], $8::smallint[], $9::float8[], $10::text[], $11::text[])
         AS r(id, model, version, start, "end", rank, revision, episode, snapshot)
       ON CONFLICT (id) DO UPDATE SET
         model = excluded.model, version = excluded.version, start = excluded.start, "end" = excluded."end",
         rank = CASE WHEN e.resolution IS NULL THEN excluded.rank ELSE 2 END,
         revision = excluded.revision, episode = excluded.episode, snapshot = excluded.snapshot, updated_at = excluded.updated_at
       WHERE e.agent = excluded.agent AND e.revision < excluded.revision`,
      [
        agent,
        receivedAt,
        col((e) => e.id),
        col((e) => e.model),
        col((e) => e.version),
        col((e) => e.start),
        col((e) => e.end),
        col((e) => episodeRank(e, null)),
        col((e) => e.revision),
        col((e) => JSON.stringify({ ...e, snapshot: [] })),
        col((e) => JSON.stringify(Array.isArray(e.snapshot) ? e.snapshot : [])),
      ],
    );
  }

  async get(id: string): Promise<StoredEpisode | undefined> {
    const result = await run<EpisodeRow>(
      this.pool,
      'reading an episode',
      `SELECT episode, snapshot, resolution, first_received_at, updated_at FROM ${this.s}.episodes WHERE id = $1`,
      [id],
    );
    const row = result.rows[0];
    return row && toStored(row);
  }

  /** Sets the resolution and moves the episode to the resolved rank, in one statement. */
  async resolve(id: string, resolution: Resolution): Promise<StoredEpisode | undefined> {
    const result = await run<EpisodeRow>(
      this.pool,
      'resolving an episode',
      `UPDATE ${this.s}.episodes SET resolution = $2::jsonb, label = $3, rank = 2 WHERE id = $1
       RETURNING episode, snapshot, resolution, first_received_at, updated_at`,
      [id, JSON.stringify(resolution), resolution.label],
    );
    const row = result.rows[0];
    return row && toStored(row);
  }

  /** In list order (rank, newest start, id), snapshots omitted. */
  async list(filter: EpisodeFilter): Promise<StoredEpisode[]> {
    const limit = filter.limit ?? DEFAULT_EPISODE_LIMIT;
    if (limit <= 0) return [];
    const offset = Math.max(0, filter.offset ?? 0);
    const words = searchWords(filter.q);
    if (words.length > 0) return this.search(filter, words, limit, offset);
    const where = listConditions(filter);
    const result = await run<EpisodeRow>(
      this.pool,
      'listing episodes',
      `SELECT episode, resolution, first_received_at, updated_at FROM ${this.s}.episodes ${where.where}
       ORDER BY rank, start DESC, id LIMIT ${where.param(limit)} OFFSET ${where.param(offset)}`,
      where.values,
    );
    return result.rows.map(toStored);
  }

  /**
   * A text search. matchesSearch decides, as in LMDB (JavaScript folds case
   * the same whatever the database's locale); the database only narrows the
   * rows first, by the words it can check without doubt in the raw episode
   * JSON and answer (a superset of the matches). Rows come in list order, a
   * chunk at a time, each chunk continuing after the last row seen.
   */
  private async search(filter: EpisodeFilter, words: readonly string[], limit: number, offset: number): Promise<StoredEpisode[]> {
    const out: StoredEpisode[] = [];
    let skip = offset;
    let after: OrderedRow | undefined;
    for (;;) {
      const where = listConditions(filter);
      for (const word of words.filter((w) => NARROWING_WORD.test(w))) {
        where.add((p) => `strpos(lower((episode || ' ' || coalesce(resolution::text, '')) COLLATE "C"), ${p}) > 0`, word);
      }
      if (after) where.add((rank, start, id) => `(rank > ${rank} OR (rank = ${rank} AND (start < ${start} OR (start = ${start} AND id > ${id}))))`, after.rank, after.start, after.id);
      const result = await run<OrderedRow>(
        this.pool,
        'searching episodes',
        `SELECT rank, start, id, episode, resolution, first_received_at, updated_at FROM ${this.s}.episodes ${where.where}
         ORDER BY rank, start DESC, id LIMIT ${where.param(SEARCH_CHUNK)}`,
        where.values,
      );
      for (const row of result.rows) {
        const stored = toStored(row);
        if (!matchesSearch(stored, words)) continue;
        if (skip > 0) skip--;
        else if (out.push(stored) >= limit) return out;
      }
      if (result.rows.length < SEARCH_CHUNK) return out;
      after = result.rows[result.rows.length - 1];
    }
  }

  /** Every version in the registry or with episodes (of one model when given), counted by the database. */
  async performance(model?: string): Promise<VersionPerformance[]> {
    const where = new Conditions().addIf(model, (p) => `model = ${p}`);
    const counted = await run<PerformanceRow>(
      this.pool,
      'counting episodes per version',
      `SELECT model, version, count(*) AS episodes,
         count(*) FILTER (WHERE label = 'real') AS real,
         count(*) FILTER (WHERE label = 'normal') AS normal,
         count(*) FILTER (WHERE label = 'unsure') AS unsure,
         count(*) FILTER (WHERE label IS NULL) AS unresolved,
         min(start) AS first_start, max(start) AS last_start
       FROM ${this.s}.episodes ${where.where} GROUP BY model, version`,
      where.values,
    );
    const registryWhere = new Conditions().addIf(model, (p) => `name = ${p}`);
    const registry = await run<{ name: string; version: string }>(
      this.pool,
      'listing registry versions',
      `SELECT name, version FROM ${this.s}.models ${registryWhere.where}`,
      registryWhere.values,
    );
    const byVersion = new Map<string, VersionPerformance>();
    for (const row of registry.rows) byVersion.set(JSON.stringify([row.name, row.version]), emptyPerformance(row.name, row.version));
    for (const row of counted.rows) {
      byVersion.set(JSON.stringify([row.model, row.version]), {
        model: row.model,
        version: row.version,
        episodes: row.episodes,
        real: row.real,
        normal: row.normal,
        unsure: row.unsure,
        unresolved: row.unresolved,
        firstStart: row.first_start,
        lastStart: row.last_start,
      });
    }
    return [...byVersion.values()].sort(compareVersionPerformance);
  }
}

/** The filters every list applies: status, agent, model, version, event-time overlap. */
function listConditions(filter: EpisodeFilter): Conditions {
  const status = filter.status ?? 'all';
  const where = new Conditions();
  if (status === 'unresolved') where.add(() => 'rank < 2');
  if (status === 'resolved') where.add(() => 'rank = 2');
  return where
    .addIf(filter.agent, (p) => `agent = ${p}`)
    .addIf(filter.model, (p) => `model = ${p}`)
    .addIf(filter.version, (p) => `version = ${p}`)
    .addIf(filter.to, (p) => `start <= ${p}`)
    .addIf(filter.from, (p) => `("end" IS NULL OR "end" >= ${p})`);
}

function toStored(row: EpisodeRow): StoredEpisode {
  const episode = JSON.parse(row.episode) as Episode;
  if (row.snapshot !== undefined) episode.snapshot = JSON.parse(row.snapshot) as Episode['snapshot'];
  return { episode, resolution: row.resolution, firstReceivedAt: row.first_received_at, updatedAt: row.updated_at };
}

/**
 * Text columns cannot hold NUL: an episode whose id, model or version has one
 * stays a record only, instead of failing its batch on every resend.
 */
function hasNul(episode: Episode): boolean {
  return [episode.id, episode.model, episode.version].some((text) => text.includes('\0'));
}
