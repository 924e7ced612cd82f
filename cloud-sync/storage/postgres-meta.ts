import type pg from 'pg';
import { VigilError, describeError } from '../../shared/errors.js';
import { run } from './postgres-sql.js';

function encode(key: string, value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new VigilError('VIGIL_HUB_STORAGE_FAILED', `the setting ${key} cannot be stored as JSON: ${describeError(err)}`, { cause: err });
  }
  if (json === undefined) throw new VigilError('VIGIL_HUB_STORAGE_FAILED', `the setting ${key} must be a JSON value (got ${typeof value})`);
  return json;
}

/**
 * Small settings as jsonb by key. Compare-and-set compares inside the
 * database (jsonb equality is structural), so of replicas racing for the same
 * scheduled work exactly one sees its update land.
 */
export class PostgresMeta {
  constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
  ) {}

  async get<T>(key: string): Promise<T | undefined> {
    const result = await run<{ value: T }>(this.pool, 'reading a setting', `SELECT value FROM ${this.s}.meta WHERE key = $1`, [key]);
    return result.rows.length === 0 ? undefined : result.rows[0]!.value;
  }

  async set(key: string, value: unknown): Promise<void> {
    await run(
      this.pool,
      'writing a setting',
      `INSERT INTO ${this.s}.meta (key, value) VALUES ($1, $2::jsonb) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [key, encode(key, value)],
    );
  }

  /**
   * The first writer wins; every caller gets the value that is stored. Two
   * statements, not one: a statement's snapshot may predate the row a
   * concurrent replica just committed (which made the insert do nothing).
   */
  async init<T>(key: string, value: T): Promise<T> {
    await run(this.pool, 'initialising a setting', `INSERT INTO ${this.s}.meta (key, value) VALUES ($1, $2::jsonb) ON CONFLICT (key) DO NOTHING`, [
      key,
      encode(key, value),
    ]);
    const stored = await this.get<T>(key);
    return stored === undefined ? value : stored;
  }

  async compareAndSet(key: string, expected: unknown, next: unknown): Promise<boolean> {
    const nextJson = encode(key, next);
    const result =
      expected === undefined
        ? await run(this.pool, 'claiming a setting', `INSERT INTO ${this.s}.meta (key, value) VALUES ($1, $2::jsonb) ON CONFLICT (key) DO NOTHING`, [key, nextJson])
        : await run(this.pool, 'compare-and-set of a setting', `UPDATE ${this.s}.meta SET value = $3::jsonb WHERE key = $1 AND value = $2::jsonb`, [
            key,
            encode(key, expected),
            nextJson,
          ]);
    return result.rowCount === 1;
  }

  /** By key. */
  async list(): Promise<Array<{ key: string; value: unknown }>> {
    const result = await run<{ key: string; value: unknown }>(this.pool, 'listing settings', `SELECT key, value FROM ${this.s}.meta ORDER BY key`);
    return result.rows.map((r) => ({ key: r.key, value: r.value }));
  }
}
