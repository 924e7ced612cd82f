import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The maintenance database of the test server; every test file creates its own database beside it. */
export const TEST_POSTGRES_URL = process.env.VIGIL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** Connection URL of the throwaway database. */
  url: string;
  name: string;
  /** Runs one statement in the throwaway database (schema set-up and inspection in tests). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  /** Drops the database, ending connections that are still open. */
  drop(): Promise<void>;
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates `vigil_test_<random>` on the test server. Rejects when the server
 * does not answer: the PostgreSQL tests must fail then, never skip.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `vigil_test_${randomBytes(6).toString('hex')}`;
  try {
    await withClient(TEST_POSTGRES_URL, (c) => c.query(`CREATE DATABASE ${name}`));
  } catch (err) {
    throw new Error(`the test PostgreSQL server at ${TEST_POSTGRES_URL} (VIGIL_TEST_POSTGRES_URL) did not create a database: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    query: (text, values) => withClient(url.toString(), (c) => c.query(text, values)),
    drop: () => withClient(TEST_POSTGRES_URL, async (c) => void (await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))),
  };
}
