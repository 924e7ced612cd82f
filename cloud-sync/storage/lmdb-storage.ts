import { isDeepStrictEqual } from 'node:util';
import type { Database } from 'lmdb';
import { VigilError } from '../../shared/errors.js';
import type { WindowResult } from '../../shared/window-result.js';
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
import { newAgentRecord } from './hub-storage.js';
import { InProcessFleet } from './in-process-fleet.js';
import { LmdbDeployments } from './lmdb-deployments.js';
import { LmdbEpisodes } from './lmdb-episodes.js';
import { durableWrite, openHubDbs, type HubDbs } from './lmdb-layout.js';
import { LmdbModels } from './lmdb-models.js';
import { LmdbRecords } from './lmdb-records.js';
import { LmdbUsers } from './lmdb-users.js';
import { mergePatch } from './merge-patch.js';
import { addScore, addWindow, emptyScoreCounts, histogramOf, mergeScoreCounts, type ScoreCounts, type ScoreHistogram } from './score-histogram.js';

export interface LmdbHubStorageOptions {
  /** Initial map size in bytes (address space, not disk); lmdb-js grows it when full. Default 1 GiB. */
  mapSize?: number;
}

/**
 * The hub's embedded storage: one LMDB environment in `dir` (`<hub.dataDir>/store`),
 * for a hub with one replica. Every write is its own abortable transaction and
 * resolves once flushed to disk; reads are synchronous underneath.
 */
export async function openLmdbHubStorage(dir: string, options: LmdbHubStorageOptions = {}): Promise<HubStorage> {
  const dbs = openHubDbs(dir, options.mapSize);
  // Open barrier: a flushed write syncs whatever a killed predecessor had
  // committed but not flushed, so everything readable is also durable.
  await durableWrite(dbs.env, () => dbs.meta.putSync('store:openedAt', Date.now()));
  return new LmdbHubStorage(dbs);
}

class LmdbHubStorage implements HubStorage {
  readonly kind = 'lmdb';
  readonly storesRecordsAsReceived = true;
  private readonly records: LmdbRecords;
  private readonly episodes: LmdbEpisodes;
  private readonly models: LmdbModels;
  private readonly deployments: LmdbDeployments;
  private readonly users: LmdbUsers;
  /** [model, version] → ScoreCounts, updated in the ingest transaction. */
  private readonly scoreCounts: Database<ScoreCounts, [string, string]>;
  private closing: Promise<void> | null = null;
  private readonly fleet = new InProcessFleet();

  constructor(private readonly dbs: HubDbs) {
    this.records = new LmdbRecords(dbs);
    this.episodes = new LmdbEpisodes(dbs);
    this.models = new LmdbModels(dbs);
    this.deployments = new LmdbDeployments(dbs);
    this.users = new LmdbUsers(dbs.env);
    this.scoreCounts = dbs.env.openDB({ name: 'score-counts' });
  }

  // ── agents ──────────────────────────────────────────────────────────────
  createAgent(agent: Pick<AgentRecord, 'id' | 'labels' | 'tokenHash' | 'tokenSalt' | 'createdAt'>): Promise<void> {
    const record = newAgentRecord(agent);
    return durableWrite(this.dbs.env, () => {
      if (this.dbs.agents.doesExist(agent.id)) throw new VigilError('VIGIL_API_CONFLICT', `agent ${agent.id} exists already`);
      this.dbs.agents.putSync(agent.id, record);
    });
  }

  async getAgent(id: string): Promise<AgentRecord | undefined> {
    this.seeOtherProcesses();
    return this.dbs.agents.get(id);
  }

  /** In id order. */
  async listAgents(): Promise<AgentRecord[]> {
    return [...this.dbs.agents.getRange({})].map(({ value }) => value);
  }

  /** Rejects with VIGIL_API_NOT_FOUND when there is no such agent. */
  updateAgentPresence(id: string, patch: AgentPresencePatch): Promise<void> {
    return this.updateAgent(id, (agent) => mergePatch(agent, patch)).then((found) => {
      if (!found) throw new VigilError('VIGIL_API_NOT_FOUND', `no agent ${id}`);
    });
  }

  revokeAgent(id: string, at: number): Promise<boolean> {
    return this.updateAgent(id, (agent) => ({ ...agent, revokedAt: at }));
  }

  replaceAgentToken(id: string, tokenHash: string, tokenSalt: string): Promise<boolean> {
    return this.updateAgent(id, (agent) => ({ ...agent, tokenHash, tokenSalt, revokedAt: null }));
  }

  // ── results ─────────────────────────────────────────────────────────────
  ingest(agent: string, epoch: string, stream: SyncStream, records: readonly SyncRecord[], receivedAt: number, recordsText?: Buffer): Promise<IngestResult> {
    // NUL delimits the elements of an ordered-binary key: an epoch holding one
    // could alias another (agent, epoch) position.
    if (agent.includes('\0') || epoch.includes('\0')) {
      return Promise.reject(new VigilError('VIGIL_SYNC_PROTOCOL', `agent id and epoch must not contain NUL characters (agent ${JSON.stringify(agent)})`));
    }
    const batchCounts = new Map<string, { key: [string, string]; counts: ScoreCounts }>();
    // A batch is almost always one model version's scores: its counts are looked up once, not per record.
    let last: { model: string; version: string; counts: ScoreCounts } | null = null;
    const countsOf = (model: string, version: string): ScoreCounts => {
      if (last !== null && last.model === model && last.version === version) return last.counts;
      const id = `${model}@${version}`;
      let entry = batchCounts.get(id);
      if (!entry) batchCounts.set(id, (entry = { key: [model, version], counts: emptyScoreCounts() }));
      last = { model, version, counts: entry.counts };
      return entry.counts;
    };
    const countScore = (body: unknown) => {
      const r = body as Partial<WindowResult> | null;
      if (typeof r?.model !== 'string' || typeof r.version !== 'string' || typeof r.score !== 'number') return;
      const counts = countsOf(r.model, r.version);
      addScore(counts, r.score);
      addWindow(counts, r.level, typeof r.end === 'number' ? r.end : Number.NaN);
    };
    const onStored =
      stream === 'episodes' ? (body: unknown) => this.episodes.applyRevision(body, agent, receivedAt) : stream === 'scores' ? countScore : () => undefined;
    return durableWrite(this.dbs.env, () => {
      const result = this.records.writeBatch(agent, epoch, stream, records, receivedAt, onStored, recordsText);
      // Only records new to the hub were counted: a resend changes nothing.
      for (const { key, counts } of batchCounts.values()) this.scoreCounts.putSync(key, mergeScoreCounts(this.scoreCounts.get(key) ?? emptyScoreCounts(), counts));
      return result;
    });
  }

  async storedUpTo(agent: string, epoch: string, stream: SyncStream): Promise<number> {
    return this.records.storedUpTo(agent, epoch, stream);
  }

  async listRecords(stream: SyncStream, filter: RecordFilter): Promise<StoredRecord[]> {
    return this.records.list(stream, filter);
  }

  async countRecords(stream: SyncStream, agent?: string): Promise<number> {
    return this.records.count(stream, agent);
  }

  // ── episodes ────────────────────────────────────────────────────────────
  async listEpisodes(filter: EpisodeFilter): Promise<StoredEpisode[]> {
    return this.episodes.list(filter);
  }

  async getEpisode(id: string): Promise<StoredEpisode | undefined> {
    return this.episodes.get(id);
  }

  resolveEpisode(id: string, resolution: Resolution): Promise<StoredEpisode | undefined> {
    return this.episodes.resolve(id, resolution);
  }

  async versionPerformance(model?: string): Promise<VersionPerformance[]> {
    return this.episodes.performance(model);
  }

  async scoreHistogram(model: string, version: string): Promise<ScoreHistogram> {
    return histogramOf(this.scoreCounts.get([model, version]) ?? emptyScoreCounts());
  }

  // ── model registry ──────────────────────────────────────────────────────
  putModelVersion(record: ModelVersionRecord, packageBytes: Uint8Array): Promise<'created' | 'exists'> {
    return this.models.put(record, packageBytes);
  }

  async getModelVersion(name: string, version: string): Promise<ModelVersionRecord | undefined> {
    return this.models.get(name, version);
  }

  async getPackage(name: string, version: string): Promise<Uint8Array | undefined> {
    return this.models.getPackage(name, version);
  }

  async listModelVersions(name?: string): Promise<ModelVersionRecord[]> {
    return this.models.list(name);
  }

  // ── deployments ─────────────────────────────────────────────────────────
  /** Rejects with VIGIL_API_CONFLICT when the id exists. */
  createDeployment(deployment: DeploymentRecord, targets: readonly DeploymentTarget[]): Promise<void> {
    return this.deployments.create(deployment, targets);
  }

  async getDeployment(id: string): Promise<DeploymentRecord | undefined> {
    return this.deployments.get(id);
  }

  async listDeployments(filter?: { model?: string; agent?: string; limit?: number }): Promise<DeploymentRecord[]> {
    return this.deployments.list(filter);
  }

  updateDeployment(id: string, patch: Partial<Pick<DeploymentRecord, 'state' | 'reason' | 'updatedAt'>>): Promise<void> {
    return this.deployments.update(id, patch);
  }

  async listTargets(deployment: string): Promise<DeploymentTarget[]> {
    return this.deployments.targets(deployment);
  }

  async targetsOfAgent(agent: string): Promise<DeploymentTarget[]> {
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
  /** Rejects with VIGIL_API_CONFLICT when the id exists. */
  createApiToken(token: ApiTokenRecord): Promise<void> {
    return durableWrite(this.dbs.env, () => {
      if (this.dbs.apiTokens.doesExist(token.id)) throw new VigilError('VIGIL_API_CONFLICT', `API token ${token.id} exists already`);
      this.dbs.apiTokens.putSync(token.id, token);
    });
  }

  async getApiToken(id: string): Promise<ApiTokenRecord | undefined> {
    this.seeOtherProcesses();
    return this.dbs.apiTokens.get(id);
  }

  /** Oldest first. */
  async listApiTokens(): Promise<ApiTokenRecord[]> {
    return [...this.dbs.apiTokens.getRange({})].map(({ value }) => value).sort((a, b) => a.createdAt - b.createdAt);
  }

  revokeApiToken(id: string, at: number): Promise<boolean> {
    return durableWrite(this.dbs.env, () => {
      const token = this.dbs.apiTokens.get(id);
      if (!token) return false;
      this.dbs.apiTokens.putSync(id, { ...token, revokedAt: at });
      return true;
    });
  }

  // ── users and sessions ──────────────────────────────────────────────────
  createUser(user: UserRecord): Promise<void> {
    return this.users.createUser(user);
  }

  async getUser(name: string): Promise<UserRecord | undefined> {
    this.seeOtherProcesses();
    return this.users.getUser(name);
  }

  async listUsers(): Promise<UserRecord[]> {
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

  async getSession(idHash: string): Promise<SessionRecord | undefined> {
    this.seeOtherProcesses();
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
  async getMeta<T>(key: string): Promise<T | undefined> {
    return this.dbs.meta.get(key) as T | undefined;
  }

  setMeta(key: string, value: unknown): Promise<void> {
    return durableWrite(this.dbs.env, () => {
      this.dbs.meta.putSync(key, value);
    });
  }

  initMeta<T>(key: string, value: T): Promise<T> {
    return durableWrite(this.dbs.env, () => {
      const current = this.dbs.meta.get(key);
      if (current !== undefined) return current as T;
      this.dbs.meta.putSync(key, value);
      return value;
    });
  }

  compareAndSetMeta(key: string, expected: unknown, next: unknown): Promise<boolean> {
    return durableWrite(this.dbs.env, () => {
      if (!isDeepStrictEqual(this.dbs.meta.get(key), expected)) return false;
      this.dbs.meta.putSync(key, next);
      return true;
    });
  }

  async listMeta(): Promise<Array<{ key: string; value: unknown }>> {
    return [...this.dbs.meta.getRange()].map(({ key, value }) => ({ key, value }));
  }

  // ── one replica: locks and messages stay in this process ───────────────
  withLock<T>(name: string, work: () => Promise<T>): Promise<T> {
    return this.fleet.withLock(name, work);
  }

  publish(message: unknown): Promise<void> {
    return this.fleet.publish(message);
  }

  subscribe(listener: (message: unknown) => void): () => void {
    return this.fleet.subscribe(listener);
  }

  async scanRecords(stream: SyncStream, cursor: string | null, limit: number): Promise<{ records: StoredRecord[]; next: string | null }> {
    return this.records.scan(stream, cursor, limit);
  }

  /** Waits for writes in flight to be durable, then closes the environment. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.dbs.env.flushed;
      await this.dbs.env.close();
    })();
    return this.closing;
  }

  /**
   * The admin commands (`vigil hub agents add`, `tokens add`, `users add`)
   * write from another process beside the running hub. lmdb-js keeps reusing
   * one read snapshot for a while (kriszyp/lmdb-js#250), so a token created a
   * moment ago could be refused (401, seen in CI). The reads that decide
   * access start from a fresh snapshot; it is cheap, and safe while other
   * cursors are open (lmdb-js then starts a new snapshot beside them).
   */
  private seeOtherProcesses(): void {
    this.dbs.env.resetReadTxn();
  }

  /** Read-modify-write of one agent in one transaction; false when there is no such agent. */
  private updateAgent(id: string, change: (agent: AgentRecord) => AgentRecord): Promise<boolean> {
    return durableWrite(this.dbs.env, () => {
      const agent = this.dbs.agents.get(id);
      if (!agent) return false;
      this.dbs.agents.putSync(id, change(agent));
      return true;
    });
  }
}
