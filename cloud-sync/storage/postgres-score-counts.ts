import type pg from 'pg';
import type { WindowResult } from '../../shared/window-result.js';
import { addScore, addWindow, emptyScoreCounts, histogramOf, type ScoreCounts, type ScoreHistogram } from './score-histogram.js';
import { run } from './postgres-sql.js';

interface TotalsRow {
  total: number | null;
  alarms: number;
  warns: number;
  first_end: number | null;
  last_end: number | null;
  non_positive: number;
  min_non_positive: number | null;
}

/** Rows per model version, chosen by agent: ingests of different agents rarely touch the same row. */
export const SCORE_COUNT_SHARDS = 32;

export function scoreCountShard(agent: string): number {
  let h = 2166136261;
  for (let i = 0; i < agent.length; i++) h = Math.imul(h ^ agent.charCodeAt(i), 16777619);
  return (h >>> 0) % SCORE_COUNT_SHARDS;
}

/**
 * Per model version score distributions (score-histogram.ts), counted at
 * ingest. Totals and bins are added with upserts (count = count + n), never
 * read-modify-write, so replicas ingesting the same version at once add up
 * instead of overwriting each other; and in shards by agent (migration 2),
 * because an upserted row stays locked until the ingest commits and one row
 * per version made every ingest of that version wait for the one before.
 */
export class PostgresScoreCounts {
  constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
  ) {}

  /** Inside the ingest transaction, with the bodies of the records that were new. */
  async add(client: pg.PoolClient, agent: string, bodies: readonly unknown[]): Promise<void> {
    const shard = scoreCountShard(agent);
    const byVersion = new Map<string, { model: string; version: string; counts: ScoreCounts }>();
    for (const body of bodies) {
      const r = body as Partial<WindowResult> | null;
      if (typeof r?.model !== 'string' || typeof r.version !== 'string' || typeof r.score !== 'number') continue;
      const key = JSON.stringify([r.model, r.version]);
      let entry = byVersion.get(key);
      if (!entry) byVersion.set(key, (entry = { model: r.model, version: r.version, counts: emptyScoreCounts() }));
      addScore(entry.counts, r.score);
      addWindow(entry.counts, r.level, typeof r.end === 'number' ? r.end : Number.NaN);
    }
    if (byVersion.size === 0) return;
    // Sorted: concurrent ingests lock the same rows in the same order.
    const entries = [...byVersion.values()].sort((a, b) => compare(a.model, b.model) || compare(a.version, b.version));
    const col = <T>(pick: (e: (typeof entries)[number]) => T) => entries.map(pick);
    await client.query(
      `INSERT INTO ${this.s}.score_totals AS t (model, version, total, alarms, warns, first_end, last_end, non_positive, min_non_positive, shard)
       SELECT *, $10::smallint FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::float8[], $7::float8[], $8::bigint[], $9::float8[])
       ON CONFLICT (model, version, shard) DO UPDATE SET
         total = t.total + excluded.total,
         alarms = t.alarms + excluded.alarms,
         warns = t.warns + excluded.warns,
         first_end = LEAST(t.first_end, excluded.first_end),
         last_end = GREATEST(t.last_end, excluded.last_end),
         non_positive = t.non_positive + excluded.non_positive,
         min_non_positive = LEAST(t.min_non_positive, excluded.min_non_positive)`,
      [
        col((e) => e.model),
        col((e) => e.version),
        col((e) => e.counts.total),
        col((e) => e.counts.alarms ?? 0),
        col((e) => e.counts.warns ?? 0),
        col((e) => e.counts.firstEnd ?? null),
        col((e) => e.counts.lastEnd ?? null),
        col((e) => e.counts.nonPositive),
        col((e) => e.counts.minNonPositive),
        shard,
      ],
    );
    const bins = entries.flatMap((e) =>
      Object.entries(e.counts.bins)
        .map(([bin, count]) => ({ model: e.model, version: e.version, bin: Number(bin), count }))
        .sort((a, b) => a.bin - b.bin),
    );
    if (bins.length === 0) return;
    await client.query(
      `INSERT INTO ${this.s}.score_bins AS b (model, version, bin, count, shard)
       SELECT *, $5::smallint FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[])
       ON CONFLICT (model, version, shard, bin) DO UPDATE SET count = b.count + excluded.count`,
      [bins.map((b) => b.model), bins.map((b) => b.version), bins.map((b) => b.bin), bins.map((b) => b.count), shard],
    );
  }

  async histogram(model: string, version: string): Promise<ScoreHistogram> {
    const totals = await run<TotalsRow>(
      this.pool,
      'reading score counts',
      `SELECT sum(total)::bigint AS total, sum(alarms)::bigint AS alarms, sum(warns)::bigint AS warns, min(first_end) AS first_end, max(last_end) AS last_end,
              sum(non_positive)::bigint AS non_positive, min(min_non_positive) AS min_non_positive
       FROM ${this.s}.score_totals WHERE model = $1 AND version = $2`,
      [model, version],
    );
    const row = totals.rows[0];
    if (!row || row.total === null) return histogramOf(emptyScoreCounts());
    const bins = await run<{ bin: number; count: number }>(
      this.pool,
      'reading score bins',
      `SELECT bin, sum(count)::bigint AS count FROM ${this.s}.score_bins WHERE model = $1 AND version = $2 GROUP BY bin`,
      [model, version],
    );
    const counts: ScoreCounts = {
      total: row.total,
      alarms: row.alarms,
      warns: row.warns,
      firstEnd: row.first_end,
      lastEnd: row.last_end,
      nonPositive: row.non_positive,
      minNonPositive: row.min_non_positive,
      bins: Object.fromEntries(bins.rows.map((b) => [String(b.bin), b.count])),
    };
    return histogramOf(counts);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
