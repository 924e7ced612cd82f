import { createHash } from 'node:crypto';
import pg from 'pg';
import { VigilError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { describeServer, numericTypes, quoteIdent, storageFailed } from './postgres-sql.js';

/**
 * The hub's PostgreSQL schema, as numbered migrations. A migration is never
 * edited once released: changes come as a new one. Each runs in its own
 * transaction and is recorded in `schema_migrations` in that transaction, so a
 * failure leaves the schema at the previous version.
 *
 * Identifiers: `s` is the quoted, validated schema name. Text keys use the "C"
 * collation so the database orders them by code point, as the LMDB backend
 * (and JavaScript) does, whatever the database's locale.
 */
interface Migration {
  version: number;
  description: string;
  statements: (s: string) => string[];
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'agents, records, episodes, score counts, registry, deployments, tokens, users, sessions, meta',
    statements: (s) => [
      `CREATE TABLE ${s}.agents (id text COLLATE "C" PRIMARY KEY, doc jsonb NOT NULL)`,
      // Bodies as text, not jsonb: agents send them, and jsonb refuses
      // strings that JSON allows (\u0000, lone surrogates), which would wedge
      // an agent's outbox on one record. `model` is body.model, for the filter.
      `CREATE TABLE ${s}.records (
        stream text COLLATE "C" NOT NULL,
        agent text COLLATE "C" NOT NULL,
        epoch text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        at float8 NOT NULL,
        received_at bigint NOT NULL,
        model text COLLATE "C",
        body text NOT NULL,
        PRIMARY KEY (stream, agent, epoch, seq)
      )`,
      `CREATE INDEX records_newest ON ${s}.records (stream, received_at DESC, agent DESC, epoch DESC, seq DESC)`,
      `CREATE INDEX records_newest_by_agent ON ${s}.records (stream, agent, received_at DESC, epoch DESC, seq DESC)`,
      `CREATE INDEX records_newest_by_model ON ${s}.records (stream, model, received_at DESC, agent DESC, epoch DESC, seq DESC) WHERE model IS NOT NULL`,
      // Per (stream, agent, epoch): storedUpTo and countRecords without scanning records.
      `CREATE TABLE ${s}.record_cursors (
        stream text COLLATE "C" NOT NULL,
        agent text COLLATE "C" NOT NULL,
        epoch text COLLATE "C" NOT NULL,
        up_to bigint NOT NULL,
        count bigint NOT NULL,
        PRIMARY KEY (stream, agent, epoch)
      )`,
      `CREATE TABLE ${s}.score_totals (
        model text COLLATE "C" NOT NULL,
        version text COLLATE "C" NOT NULL,
        total bigint NOT NULL,
        alarms bigint NOT NULL,
        warns bigint NOT NULL,
        first_end float8,
        last_end float8,
        non_positive bigint NOT NULL,
        min_non_positive float8,
        PRIMARY KEY (model, version)
      )`,
      `CREATE TABLE ${s}.score_bins (
        model text COLLATE "C" NOT NULL,
        version text COLLATE "C" NOT NULL,
        bin integer NOT NULL,
        count bigint NOT NULL,
        PRIMARY KEY (model, version, bin)
      )`,
      // rank: 0 unresolved alarm, 1 other unresolved, 2 resolved (episode-rules.ts).
      `CREATE TABLE ${s}.episodes (
        id text COLLATE "C" PRIMARY KEY,
        agent text COLLATE "C" NOT NULL,
        model text COLLATE "C" NOT NULL,
        version text COLLATE "C" NOT NULL,
        start float8 NOT NULL,
        "end" float8,
        rank smallint NOT NULL,
        label text,
        revision float8 NOT NULL,
        episode text NOT NULL,
        snapshot text NOT NULL,
        resolution jsonb,
        first_received_at bigint NOT NULL,
        updated_at bigint NOT NULL
      )`,
      `CREATE INDEX episodes_in_order ON ${s}.episodes (rank, start DESC, id)`,
      `CREATE INDEX episodes_of_agent ON ${s}.episodes (agent, rank, start DESC, id)`,
      `CREATE INDEX episodes_of_version ON ${s}.episodes (model, version)`,
      `CREATE TABLE ${s}.models (
        name text COLLATE "C" NOT NULL,
        version text COLLATE "C" NOT NULL,
        uploaded_at bigint NOT NULL,
        doc jsonb NOT NULL,
        package bytea NOT NULL,
        PRIMARY KEY (name, version)
      )`,
      `CREATE TABLE ${s}.deployments (id text COLLATE "C" PRIMARY KEY, model text COLLATE "C" NOT NULL, created_at bigint NOT NULL, doc jsonb NOT NULL)`,
      `CREATE INDEX deployments_newest ON ${s}.deployments (created_at DESC, id DESC)`,
      `CREATE TABLE ${s}.targets (
        deployment text COLLATE "C" NOT NULL REFERENCES ${s}.deployments (id),
        agent text COLLATE "C" NOT NULL,
        doc jsonb NOT NULL,
        PRIMARY KEY (deployment, agent)
      )`,
      `CREATE INDEX targets_of_agent ON ${s}.targets (agent, deployment)`,
      `CREATE TABLE ${s}.api_tokens (id text COLLATE "C" PRIMARY KEY, created_at bigint NOT NULL, doc jsonb NOT NULL)`,
      `CREATE TABLE ${s}.users (name text COLLATE "C" PRIMARY KEY, doc jsonb NOT NULL)`,
      `CREATE TABLE ${s}.sessions (
        id_hash text COLLATE "C" PRIMARY KEY,
        user_name text COLLATE "C" NOT NULL,
        last_seen_at bigint NOT NULL,
        doc jsonb NOT NULL
      )`,
      `CREATE INDEX sessions_of_user ON ${s}.sessions (user_name)`,
      `CREATE INDEX sessions_by_last_seen ON ${s}.sessions (last_seen_at)`,
      `CREATE TABLE ${s}.meta (key text COLLATE "C" PRIMARY KEY, value jsonb NOT NULL)`,
    ],
  },
  {
    version: 2,
    description: 'score counts in shards by agent: concurrent ingests of one model version no longer wait on one row',
    // bench:hub found every scores ingest of both replicas queued on the one
    // score_totals row of its model version (held until COMMIT). Rows per
    // (model, version, shard) with shard = hash(agent) mod 32; reads add them up.
    statements: (s) => [
      `ALTER TABLE ${s}.score_totals ADD COLUMN shard smallint NOT NULL DEFAULT 0`,
      `ALTER TABLE ${s}.score_totals DROP CONSTRAINT score_totals_pkey`,
      `ALTER TABLE ${s}.score_totals ADD PRIMARY KEY (model, version, shard)`,
      `ALTER TABLE ${s}.score_bins ADD COLUMN shard smallint NOT NULL DEFAULT 0`,
      `ALTER TABLE ${s}.score_bins DROP CONSTRAINT score_bins_pkey`,
      `ALTER TABLE ${s}.score_bins ADD PRIMARY KEY (model, version, shard, bin)`,
    ],
  },
];

/** The schema version this software writes and reads. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * Session advisory lock key (one bigint) that serialises migrations of one
 * schema across replicas starting together. withLock uses the two-int key
 * space, which PostgreSQL keeps apart from the bigint one.
 */
function migrationLockKey(schema: string): bigint {
  return createHash('sha256').update(`vigil-migrations:${schema}`).digest().readBigInt64BE(0);
}

/** Versions recorded in the schema; empty when the schema or table does not exist yet. */
async function appliedVersions(client: pg.ClientBase, schema: string): Promise<number[]> {
  const exists = await client.query<{ present: boolean }>(
    `SELECT to_regclass($1) IS NOT NULL AS present`,
    [`${quoteIdent(schema)}.schema_migrations`],
  );
  if (!exists.rows[0]?.present) return [];
  const rows = await client.query<{ version: number }>(`SELECT version FROM ${quoteIdent(schema)}.schema_migrations ORDER BY version`);
  return rows.rows.map((r) => r.version);
}

function refuseNewer(schema: string, current: number): void {
  if (current > LATEST_SCHEMA_VERSION) {
    throw new VigilError(
      'VIGIL_HUB_STORAGE_FAILED',
      `the PostgreSQL schema ${schema} is at version ${current}, newer than this hub knows (${LATEST_SCHEMA_VERSION}): a newer hub migrated it; upgrade this hub instead of running it against that database`,
    );
  }
}

async function connect(url: string, doing: string): Promise<pg.Client> {
  let client: pg.Client | undefined;
  try {
    client = new pg.Client({ connectionString: url, types: numericTypes, connectionTimeoutMillis: 10_000 });
    // An error after connecting (server gone) must not crash the process; the next query reports it.
    client.on('error', () => undefined);
    await client.connect();
    return client;
  } catch (err) {
    await client?.end().catch(() => undefined);
    throw storageFailed(`${doing}: connecting to ${describeServer(url)}`, err);
  }
}

/**
 * Brings `schema` to the latest version: creates it when missing, then
 * applies each pending migration in its own transaction. Replicas starting at
 * once wait for each other on an advisory lock, so each migration runs once.
 * Refuses a schema newer than this software.
 */
export async function migratePostgres(url: string, schema: string, log?: Logger): Promise<{ applied: number[]; current: number }> {
  const s = quoteIdent(schema);
  const client = await connect(url, `migrating schema ${schema}`);
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [migrationLockKey(schema).toString()]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
      const done = new Set(await appliedVersions(client, schema));
      refuseNewer(schema, Math.max(0, ...done));
      for (const migration of MIGRATIONS) {
        if (done.has(migration.version)) continue;
        await client.query('BEGIN');
        try {
          for (const statement of migration.statements(s)) await client.query(statement);
          await client.query(`INSERT INTO ${s}.schema_migrations (version) VALUES ($1)`, [migration.version]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw storageFailed(`migration ${migration.version} (${migration.description}) of schema ${schema}`, err);
        }
        applied.push(migration.version);
        log?.info({ schema, version: migration.version }, `PostgreSQL schema ${schema}: applied migration ${migration.version} (${migration.description})`);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [migrationLockKey(schema).toString()]).catch(() => undefined);
    }
    return { applied, current: LATEST_SCHEMA_VERSION };
  } catch (err) {
    throw storageFailed(`migrating schema ${schema} on ${describeServer(url)}`, err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Migrations this software would apply to `schema` (empty when current); refuses a newer schema. */
export async function pendingMigrations(url: string, schema: string): Promise<number[]> {
  const client = await connect(url, `reading the version of schema ${schema}`);
  try {
    const done = new Set(await appliedVersions(client, schema));
    refuseNewer(schema, Math.max(0, ...done));
    return MIGRATIONS.map((m) => m.version).filter((v) => !done.has(v));
  } catch (err) {
    throw storageFailed(`reading the version of schema ${schema} on ${describeServer(url)}`, err);
  } finally {
    await client.end().catch(() => undefined);
  }
}
