import pg from 'pg';
import { VigilError, describeError } from '../../shared/errors.js';

/**
 * What every PostgreSQL part of the hub storage shares: the schema name rule,
 * quoting, number parsing, and turning driver errors into VigilErrors.
 */

/** The only schema names accepted: they become identifiers in SQL text, so nothing else may pass. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new VigilError(
      'VIGIL_HUB_STORAGE_FAILED',
      `the PostgreSQL schema name ${JSON.stringify(schema)} is not allowed: use lower-case letters, digits and _ (at most 63, not starting with a digit)`,
    );
  }
  return schema;
}

/** `"schema"`: only ever called with a name checkSchemaName accepted. */
export function quoteIdent(name: string): string {
  return `"${checkSchemaName(name)}"`;
}

const INT8_OID = 20;

/**
 * bigint columns (ms times, seqs ≤ 2^53, counts) as JS numbers instead of the
 * driver's default strings. Per pool, not pg.types.setTypeParser, which would
 * change every other pg user in the process.
 */
export const numericTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** `host:port` of a connection URL for messages; never the password. */
export function describeServer(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}`;
  } catch {
    return 'an unparsable URL';
  }
}

/** A driver or connection error as VIGIL_HUB_STORAGE_FAILED naming what was being done; VigilErrors pass through. */
export function storageFailed(doing: string, err: unknown): VigilError {
  if (err instanceof VigilError) return err;
  return new VigilError('VIGIL_HUB_STORAGE_FAILED', `PostgreSQL hub storage: ${doing} failed: ${describeError(err)}`, { cause: err, retryable: true });
}

/** Runs one parameterised query; failures become VIGIL_HUB_STORAGE_FAILED. */
export async function run<R extends pg.QueryResultRow = pg.QueryResultRow>(
  db: pg.Pool | pg.PoolClient,
  doing: string,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  try {
    return await db.query<R>(text, values);
  } catch (err) {
    throw storageFailed(doing, err);
  }
}

/**
 * Runs `work` in one transaction on one pool client: committed when it
 * resolves, rolled back when it throws. A client whose rollback fails is
 * destroyed instead of going back to the pool in an unknown state.
 */
export async function inTransaction<T>(pool: pg.Pool, doing: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw storageFailed(doing, err);
  }
  let broken: Error | undefined;
  // A checked-out client has no pool listener: without this, a connection
  // lost mid-transaction would be an unhandled 'error' event and end the process.
  const onError = (err: Error) => {
    broken = err;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    }
    throw storageFailed(doing, err);
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

/**
 * A WHERE clause built from optional filters; values always travel as
 * parameters. Only conditions that apply are added, so the planner sees plain
 * equality and range predicates it can match to an index.
 */
export class Conditions {
  readonly values: unknown[];
  private readonly parts: string[] = [];

  constructor(values: unknown[] = []) {
    this.values = [...values];
  }

  /** The placeholder ($n) of a new parameter. */
  param(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }

  /** `sql` receives the placeholders of `values`, in order. */
  add(sql: (...placeholders: string[]) => string, ...values: unknown[]): this {
    this.parts.push(sql(...values.map((v) => this.param(v))));
    return this;
  }

  /** Adds the condition only when `value` is defined. */
  addIf(value: unknown, sql: (placeholder: string) => string): this {
    if (value !== undefined) this.add(sql, value);
    return this;
  }

  get where(): string {
    return this.parts.length === 0 ? '' : `WHERE ${this.parts.join(' AND ')}`;
  }
}
