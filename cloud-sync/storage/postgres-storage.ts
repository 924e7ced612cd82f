import pg from 'pg';
import { VigilError, describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { SyncRecord, SyncStream } from '../../shared/sync-protocol.js';
import type {
  AgentPresencePatch,
  AgentRecord,
  ApiTokenRecord,
  DeploymentRecord,
  DeploymentTarget,
  EpisodeFilter,
  HubStorage,
  IngestResult,
  ModelVersionRecord,
  RecordFilter,
  Resolution,
  SessionRecord,
  StoredEpisode,
  StoredRecord,
  UserRecord,
  VersionPerformance,
} from './hub-storage.js';
import type { ScoreHistogram } from './score-histogram.js';
import { PostgresAgents } from './postgres-agents.js';
import { PostgresDeployments } from './postgres-deployments.js';
import { PostgresEpisodes } from './postgres-episodes.js';
import { PostgresFleet, fleetChannel } from './postgres-fleet.js';
import { PostgresLocks } from './postgres-locks.js';
import { PostgresMeta } from './postgres-meta.js';
import { migratePostgres, pendingMigrations } from './postgres-migrations.js';
import { PostgresModels } from './postgres-models.js';
import { PostgresRecords, encodeBatch } from './postgres-records.js';
import { PostgresScoreCounts } from './postgres-score-counts.js';
import { checkSchemaName, describeServer, inTransaction, numericTypes, quoteIdent, storageFailed } from './postgres-sql.js';
import { PostgresUsers } from './postgres-users.js';

export interface PostgresHubStorageOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** Schema holding every table; created when missing. Default `vigil`. */
  schema?: string;
  /** Connections for queries (locks get a pool of the same size of their own). Default 10. */
  poolSize?: number;
  log?: Logger;
  /**
   * Apply pending migrations on open (default true). When false, opening a
   * schema that is behind fails and says to run `vigil hub migrate`.
   */
  applyMigrations?: boolean;
}

const DEFAULT_SCHEMA = 'vigil';
const DEFAULT_POOL_SIZE = 10;
/**
 * How long a query waits for a free pooled connection. Generous on purpose:
 * hundreds of agents uploading at once queue here, and waiting is the
 * backpressure (their batches stay unacknowledged); failing after 10 s made
 * the hub close healthy agents as "storage failed" (bench:hub). A server that
 * is down fails at connect, not here.
 */
const POOL_WAIT_MS = 60_000;

/**
 * The hub's storage in PostgreSQL, for several replicas sharing one database:
 * uniqueness, idempotency and compare-and-set live in the database, messages
 * between replicas go through NOTIFY, locks are advisory locks.
 */
export async function openPostgresHubStorage(options: PostgresHubStorageOptions): Promise<HubStorage> {
  const schema = checkSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const server = describeServer(options.url);
  if (options.applyMigrations === false) {
    const pending = await pendingMigrations(options.url, schema);
    if (pending.length > 0) {
      throw new VigilError(
        'VIGIL_HUB_STORAGE_FAILED',
        `the PostgreSQL schema ${schema} on ${server} is behind this hub (migrations ${pending.join(', ')} pending): run vigil hub migrate`,
      );
    }
  } else {
    await migratePostgres(options.url, schema, options.log);
  }
  const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
  const poolConfig: pg.PoolConfig = { connectionString: options.url, max: poolSize, types: numericTypes, connectionTimeoutMillis: POOL_WAIT_MS };
  const pool = new pg.Pool(poolConfig);
  const lockPool = new pg.Pool({ ...poolConfig, idleTimeoutMillis: 10_000 });
  // A pooled connection that breaks while idle must not crash the hub; the next query reconnects.
  for (const p of [pool, lockPool]) {
    p.on('error', (err) => options.log?.warn({ err: describeError(err) }, `an idle PostgreSQL connection to ${server} failed`));
  }
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await Promise.all([pool.end(), lockPool.end()]).catch(() => undefined);
    throw storageFailed(`connecting to ${server}`, err);
  }
  return new PostgresHubStorage(options.url, schema, pool, lockPool, options.log);
}

class PostgresHubStorage implements HubStorage {
  readonly kind = 'postgres';
  private readonly agents: PostgresAgents;
  private readonly records: PostgresRecords;
  private readonly scoreCounts: PostgresScoreCounts;
  private readonly episodes: PostgresEpisodes;
  private readonly models: PostgresModels;
  private readonly deployments: PostgresDeployments;
  private readonly users: PostgresUsers;
  private readonly meta: PostgresMeta;
  private readonly locks: PostgresLocks;
  private readonly fleet: PostgresFleet;
  private closing: Promise<void> | null = null;

  constructor(
    url: string,
    schema: string,
    private readonly pool: pg.Pool,
    private readonly lockPool: pg.Pool,
    log: Logger | undefined,
  ) {
    const s = quoteIdent(schema);
    this.agents = new PostgresAgents(pool, s);
    this.records = new PostgresRecords(pool, s);
    this.scoreCounts = new PostgresScoreCounts(pool, s);
    this.episodes = new PostgresEpisodes(pool, s);
    this.models = new PostgresModels(pool, s);
    this.deployments = new PostgresDeployments(pool, s);
    this.users = new PostgresUsers(pool, s);
    this.meta = new PostgresMeta(pool, s);
    this.locks = new PostgresLocks(lockPool, schema, log);
    this.fleet = new PostgresFleet(url, fleetChannel(schema), pool, log);
  }

  // ── agents ──────────────────────────────────────────────────────────────
  createAgent(agent: Pick<AgentRecord, 'id' | 'labels' | 'tokenHash' | 'tokenSalt' | 'createdAt'>): Promise<void> {
    return this.agents.create(agent);
  }

  getAgent(id: string): Promise<AgentRecord | undefined> {
    return this.agents.get(id);
  }

  listAgents(): Promise<AgentRecord[]> {
    return this.agents.list();
  }

  async updateAgentPresence(id: string, patch: AgentPresencePatch): Promise<void> {
    if (!(await this.agents.patch(id, patch, 'updating agent presence'))) throw new VigilError('VIGIL_API_NOT_FOUND', `no agent ${id}`);
  }

  revokeAgent(id: string, at: number): Promise<boolean> {
    return this.agents.patch(id, { revokedAt: at }, 'revoking an agent');
  }

  replaceAgentToken(id: string, tokenHash: string, tokenSalt: string): Promise<boolean> {
    return this.agents.patch(id, { tokenHash, tokenSalt, revokedAt: null }, "replacing an agent's token");
  }

  // ── results ─────────────────────────────────────────────────────────────
  /**
   * One transaction: the records (one INSERT, duplicates skipped by the
   * primary key), the cursor, and what the new records change — score
   * counts or the episode table. Resolves after COMMIT, i.e. once durable.
   */
  async ingest(agent: string, epoch: string, stream: SyncStream, records: readonly SyncRecord[], receivedAt: number): Promise<IngestResult> {
    // PostgreSQL text cannot hold NUL; refuse like the LMDB backend rather than fail as a storage error.
    if (agent.includes('\0') || epoch.includes('\0')) {
      throw new VigilError('VIGIL_SYNC_PROTOCOL', `agent id and epoch must not contain NUL characters (agent ${JSON.stringify(agent)})`);
    }
    const batch = encodeBatch(records);
    const stored = await inTransaction(this.pool, `ingesting ${records.length} ${stream} records of agent ${agent}`, async (client) => {
      const seqs = await this.records.insert(client, agent, epoch, stream, batch, receivedAt);
      const bodies = seqs.map((seq) => batch.byseq.get(seq));
      if (stream === 'scores') await this.scoreCounts.add(client, agent, bodies);
      if (stream === 'episodes') await this.episodes.applyRevisions(client, agent, bodies, receivedAt);
      return seqs.length;
    });
    return { stored, duplicates: records.length - stored };
  }

  storedUpTo(agent: string, epoch: string, stream: SyncStream): Promise<number> {
    return this.records.storedUpTo(agent, epoch, stream);
  }

  listRecords(stream: SyncStream, filter: RecordFilter): Promise<StoredRecord[]> {
    return this.records.list(stream, filter);
  }

  countRecords(stream: SyncStream, agent?: string): Promise<number> {
    return this.records.count(stream, agent);
  }

  scanRecords(stream: SyncStream, cursor: string | null, limit: number): Promise<{ records: StoredRecord[]; next: string | null }> {
    return this.records.scan(stream, cursor, limit);
  }

  // ── episodes ────────────────────────────────────────────────────────────
  listEpisodes(filter: EpisodeFilter): Promise<StoredEpisode[]> {
    return this.episodes.list(filter);
  }

  getEpisode(id: string): Promise<StoredEpisode | undefined> {
    return this.episodes.get(id);
  }

  resolveEpisode(id: string, resolution: Resolution): Promise<StoredEpisode | undefined> {
    return this.episodes.resolve(id, resolution);
  }

  versionPerformance(model?: string): Promise<VersionPerformance[]> {
    return this.episodes.performance(model);
  }

  scoreHistogram(model: string, version: string): Promise<ScoreHistogram> {
    return this.scoreCounts.histogram(model, version);
  }

  // ── model registry ──────────────────────────────────────────────────────
  putModelVersion(record: ModelVersionRecord, packageBytes: Uint8Array): Promise<'created' | 'exists'> {
    return this.models.put(record, packageBytes);
  }

  getModelVersion(name: string, version: string): Promise<ModelVersionRecord | undefined> {
    return this.models.get(name, version);
  }

  getPackage(name: string, version: string): Promise<Uint8Array | undefined> {
    return this.models.getPackage(name, version);
  }

  listModelVersions(name?: string): Promise<ModelVersionRecord[]> {
    return this.models.list(name);
  }

  // ── deployments ─────────────────────────────────────────────────────────
  createDeployment(deployment: DeploymentRecord, targets: readonly DeploymentTarget[]): Promise<void> {
    return this.deployments.create(deployment, targets);
  }

  getDeployment(id: string): Promise<DeploymentRecord | undefined> {
    return this.deployments.get(id);
  }

  listDeployments(filter?: { model?: string; agent?: string; limit?: number }): Promise<DeploymentRecord[]> {
    return this.deployments.list(filter);
  }

  updateDeployment(id: string, patch: Partial<Pick<DeploymentRecord, 'state' | 'reason' | 'updatedAt'>>): Promise<void> {
    return this.deployments.update(id, patch);
  }

  listTargets(deployment: string): Promise<DeploymentTarget[]> {
    return this.deployments.targets(deployment);
  }

  targetsOfAgent(agent: string): Promise<DeploymentTarget[]> {
    return this.deployments.targetsOfAgent(agent);
  }

  updateTarget(
    deployment: string,
    agent: string,
    patch: Partial<Pick<DeploymentTarget, 'status' | 'reason' | 'shadowUntil' | 'updatedAt'>>,
  ): Promise<void> {
    return this.deployments.updateTarget(deployment, agent, patch);
  }

  // ── API tokens ──────────────────────────────────────────────────────────
  createApiToken(token: ApiTokenRecord): Promise<void> {
    return this.agents.createToken(token);
  }

  getApiToken(id: string): Promise<ApiTokenRecord | undefined> {
    return this.agents.getToken(id);
  }

  listApiTokens(): Promise<ApiTokenRecord[]> {
    return this.agents.listTokens();
  }

  revokeApiToken(id: string, at: number): Promise<boolean> {
    return this.agents.revokeToken(id, at);
  }

  // ── users and sessions ──────────────────────────────────────────────────
  createUser(user: UserRecord): Promise<void> {
    return this.users.createUser(user);
  }

  getUser(name: string): Promise<UserRecord | undefined> {
    return this.users.getUser(name);
  }

  listUsers(): Promise<UserRecord[]> {
    return this.users.listUsers();
  }

  updateUser(name: string, patch: Partial<Pick<UserRecord, 'role' | 'passwordHash' | 'disabled' | 'updatedAt'>>): Promise<UserRecord | undefined> {
    return this.users.updateUser(name, patch);
  }

  deleteUser(name: string): Promise<boolean> {
    return this.users.deleteUser(name);
  }

  createSession(session: SessionRecord): Promise<void> {
    return this.users.createSession(session);
  }

  getSession(idHash: string): Promise<SessionRecord | undefined> {
    return this.users.getSession(idHash);
  }

  touchSession(idHash: string, lastSeenAt: number): Promise<void> {
    return this.users.touchSession(idHash, lastSeenAt);
  }

  deleteSession(idHash: string): Promise<boolean> {
    return this.users.deleteSession(idHash);
  }

  deleteUserSessions(user: string): Promise<number> {
    return this.users.deleteUserSessions(user);
  }

  deleteIdleSessions(lastSeenBefore: number): Promise<number> {
    return this.users.deleteIdleSessions(lastSeenBefore);
  }

  // ── meta ────────────────────────────────────────────────────────────────
  getMeta<T>(key: string): Promise<T | undefined> {
    return this.meta.get<T>(key);
  }

  setMeta(key: string, value: unknown): Promise<void> {
    return this.meta.set(key, value);
  }

  initMeta<T>(key: string, value: T): Promise<T> {
    return this.meta.init(key, value);
  }

  compareAndSetMeta(key: string, expected: unknown, next: unknown): Promise<boolean> {
    return this.meta.compareAndSet(key, expected, next);
  }

  listMeta(): Promise<Array<{ key: string; value: unknown }>> {
    return this.meta.list();
  }

  // ── replicas ────────────────────────────────────────────────────────────
  withLock<T>(name: string, work: () => Promise<T>): Promise<T> {
    return this.locks.withLock(name, work);
  }

  publish(message: unknown): Promise<void> {
    return this.fleet.publish(message);
  }

  subscribe(listener: (message: unknown) => void): () => void {
    return this.fleet.subscribe(listener);
  }

  /** Stops listening, then ends both pools once their queries in flight have finished. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.fleet.close();
      await Promise.all([this.pool.end(), this.lockPool.end()]);
    })();
    return this.closing;
  }
}
