import type { Episode, AgentEvent } from '../../shared/episode.js';
import type { ScoreHistogram } from './score-histogram.js';
import type { AgentHealth, DeploymentStatus, ModelVersions, SyncRecord, SyncStream } from '../../shared/sync-protocol.js';

/**
 * Everything the hub keeps, behind one small interface. Two implementations:
 * embedded LMDB (one replica, the default) and PostgreSQL (several replicas
 * sharing one database). The shared test suite in tests/helpers/hub-storage-suite.ts
 * runs against each. Methods are async even where LMDB could answer at once,
 * because PostgreSQL cannot.
 *
 * Rules every implementation keeps:
 * - `ingest` is idempotent by (agent, epoch, stream, seq) and lands a batch
 *   whole or not at all; it resolves only once the batch is durable.
 * - Model versions are immutable: a second put of name@version is refused.
 * - Only salted hashes of tokens are stored, never tokens.
 */

/** Largest published message, serialised (PostgreSQL's NOTIFY payload limit is 8,000 bytes). */
export const FLEET_MESSAGE_MAX_BYTES = 7_000;

export interface AgentRecord {
  id: string;
  labels: Record<string, string>;
  /** sha256(salt ‖ token), hex (see cloud-sync/auth/tokens.ts). */
  tokenHash: string;
  tokenSalt: string;
  createdAt: number;
  revokedAt: number | null;
  /** Presence and health as last reported; null until the agent first connects. */
  lastSeenAt: number | null;
  /** Hub replica the agent is connected to now, or null when offline. */
  connectedTo: string | null;
  software: string | null;
  epoch: string | null;
  models: ModelVersions[];
  health: AgentHealth | null;
  /** Agent clock minus hub clock, ms, from the last heartbeat. */
  skewMs: number | null;
}

/** What the hub enrols an agent with; presence starts empty. */
export type NewAgent = Pick<AgentRecord, 'id' | 'labels' | 'tokenHash' | 'tokenSalt' | 'createdAt'>;

/** The record of a newly enrolled agent, the same in every backend. */
export function newAgentRecord(agent: NewAgent): AgentRecord {
  return {
    id: agent.id,
    labels: { ...agent.labels },
    tokenHash: agent.tokenHash,
    tokenSalt: agent.tokenSalt,
    createdAt: agent.createdAt,
    revokedAt: null,
    lastSeenAt: null,
    connectedTo: null,
    software: null,
    epoch: null,
    models: [],
    health: null,
    skewMs: null,
  };
}

export type AgentPresencePatch = Partial<Pick<AgentRecord, 'lastSeenAt' | 'connectedTo' | 'software' | 'epoch' | 'models' | 'health' | 'skewMs'>>;

export interface IngestResult {
  /** Records new to the hub in this batch. */
  stored: number;
  /** Records the hub already had (a resend): ignored. */
  duplicates: number;
}

/** A record as the hub keeps it. */
export interface StoredRecord extends SyncRecord {
  agent: string;
  epoch: string;
  stream: SyncStream;
  /** Hub wall clock when ingested, ms. */
  receivedAt: number;
}

export const RESOLUTION_LABELS = ['real', 'normal', 'unsure'] as const;
export type ResolutionLabel = (typeof RESOLUTION_LABELS)[number];

export interface Resolution {
  label: ResolutionLabel;
  /** For `real`: the cause, picked or typed. */
  cause: string | null;
  note: string | null;
  by: string;
  at: number;
}

/** The latest revision of an episode plus its resolution. */
export interface StoredEpisode {
  episode: Episode;
  resolution: Resolution | null;
  /** Hub wall clock of the first and latest revision received. */
  firstReceivedAt: number;
  updatedAt: number;
}

export interface EpisodeFilter {
  /** unresolved: no resolution yet (open or closed); resolved: has one. Default all. */
  status?: 'unresolved' | 'resolved' | 'all';
  agent?: string;
  model?: string;
  version?: string;
  /** Episodes overlapping [from, to] in event time, ms. */
  from?: number;
  to?: number;
  /**
   * Text search: every white-space separated word must appear, ignoring
   * case, in the gateway, model, version, a top tag, or the answer's label,
   * cause, note or author (episode-rules.ts, matchesSearch).
   */
  q?: string;
  limit?: number;
  offset?: number;
}

export interface RecordFilter {
  agent?: string;
  /** For scores: the model name inside the body. */
  model?: string;
  /** Hub receive time window, ms. */
  from?: number;
  to?: number;
  limit?: number;
}

/** Per model version: what its episodes were judged to be. */
export interface VersionPerformance {
  model: string;
  version: string;
  episodes: number;
  real: number;
  normal: number;
  unsure: number;
  unresolved: number;
  /** Event time of the first and last episode start, ms; null without episodes. */
  firstStart: number | null;
  lastStart: number | null;
}

export interface ModelVersionRecord {
  name: string;
  version: string;
  description: string;
  /** sha256 (hex) of the package file. */
  sha256: string;
  size: number;
  /** ed25519 signature of the package bytes by this hub, base64. */
  signature: string;
  /** The package's manifest, as JSON. */
  manifest: unknown;
  uploadedAt: number;
  uploadedBy: string;
}

export interface DeploymentRecord {
  id: string;
  model: string;
  version: string;
  /** shadow: score beside the active version for shadowMs, then activate. */
  mode: 'shadow' | 'activate';
  shadowMs: number | null;
  /** What was asked for: agent ids and/or labels (all must match). */
  selector: { agents: string[]; labels: Record<string, string> };
  /** Staged rollout: this many agents first; the rest once they are all active. Null: all at once. */
  canary: number | null;
  /** Set on a rollback deployment: the deployment it undoes. */
  rollbackOf: string | null;
  state: 'rolling_out' | 'completed' | 'rolled_back' | 'failed';
  reason: string | null;
  createdAt: number;
  createdBy: string;
  updatedAt: number;
}

export interface DeploymentTarget {
  deployment: string;
  agent: string;
  /** 0: the canary wave, 1: the rest. */
  wave: number;
  status: DeploymentStatus;
  reason: string | null;
  /** The version the agent ran before (for rollback), null when none. */
  previousVersion: string | null;
  /** When a shadow period ends and the hub tells the agent to activate. */
  shadowUntil: number | null;
  updatedAt: number;
}

export interface ApiTokenRecord {
  id: string;
  name: string;
  role: 'viewer' | 'operator' | 'admin';
  tokenHash: string;
  tokenSalt: string;
  createdAt: number;
  revokedAt: number | null;
}

export interface UserRecord {
  /** Login name, also `by` of the resolutions this user makes. */
  name: string;
  role: 'viewer' | 'operator' | 'admin';
  /** `scrypt$N$r$p$salt$hash` (cloud-sync/users/password-hash.ts); never the password. */
  passwordHash: string;
  createdAt: number;
  updatedAt: number;
  /** A disabled user cannot log in and their sessions stop working. */
  disabled: boolean;
}

/** A web app login. The cookie carries the session id; storage keeps only its sha256. */
export interface SessionRecord {
  /** sha256 of the session id, hex: a copy of the store logs nobody in. */
  idHash: string;
  user: string;
  /** The web app sends it back in `X-CSRF-Token` with every request that changes something. */
  csrfToken: string;
  createdAt: number;
  /** Last request seen (refreshed at most once a minute); idle expiry counts from here. */
  lastSeenAt: number;
}

export interface HubStorage {
  /** Which backend, for logs and /api/health. */
  readonly kind: 'lmdb' | 'postgres';
  /** True when `ingest` uses `recordsText`: only then does the gateway cut it from the message. */
  readonly storesRecordsAsReceived?: boolean;

  // Agents
  /** Rejects with VIGIL_API_CONFLICT when the id exists. */
  createAgent(agent: Pick<AgentRecord, 'id' | 'labels' | 'tokenHash' | 'tokenSalt' | 'createdAt'>): Promise<void>;
  getAgent(id: string): Promise<AgentRecord | undefined>;
  listAgents(): Promise<AgentRecord[]>;
  updateAgentPresence(id: string, patch: AgentPresencePatch): Promise<void>;
  /** Sets revokedAt; false when there is no such agent. */
  revokeAgent(id: string, at: number): Promise<boolean>;
  /** A new token for an existing agent (clears revokedAt); false when there is no such agent. */
  replaceAgentToken(id: string, tokenHash: string, tokenSalt: string): Promise<boolean>;

  // Results
  /** Idempotent, whole, durable. Episodes records also update the episode table (highest revision wins). */
  /**
   * `recordsText`, when given, is `records` as the JSON array text they
   * arrived in (validated, the same records): a backend may store it as is
   * instead of encoding the parsed records again.
   */
  ingest(agent: string, epoch: string, stream: SyncStream, records: readonly SyncRecord[], receivedAt: number, recordsText?: Buffer): Promise<IngestResult>;
  /** Highest seq stored for (agent, epoch, stream); 0 when none. */
  storedUpTo(agent: string, epoch: string, stream: SyncStream): Promise<number>;
  /** Newest first. */
  listRecords(stream: SyncStream, filter: RecordFilter): Promise<StoredRecord[]>;
  countRecords(stream: SyncStream, agent?: string): Promise<number>;

  // Episodes and resolutions
  /** Unresolved first by peak score (alarm before warn) then newest; resolved newest first. Snapshots omitted. */
  listEpisodes(filter: EpisodeFilter): Promise<StoredEpisode[]>;
  getEpisode(id: string): Promise<StoredEpisode | undefined>;
  /** Sets (or replaces) the resolution; undefined when there is no such episode. */
  resolveEpisode(id: string, resolution: Resolution): Promise<StoredEpisode | undefined>;
  versionPerformance(model?: string): Promise<VersionPerformance[]>;
  /** Distribution of a version's scores (active and shadow), counted at ingest. */
  scoreHistogram(model: string, version: string): Promise<ScoreHistogram>;

  // Model registry
  /** 'exists' when name@version is already stored (versions are immutable): nothing is changed. */
  putModelVersion(record: ModelVersionRecord, packageBytes: Uint8Array): Promise<'created' | 'exists'>;
  getModelVersion(name: string, version: string): Promise<ModelVersionRecord | undefined>;
  getPackage(name: string, version: string): Promise<Uint8Array | undefined>;
  /** All versions (of one model when given), oldest upload first. */
  listModelVersions(name?: string): Promise<ModelVersionRecord[]>;

  // Deployments
  createDeployment(deployment: DeploymentRecord, targets: readonly DeploymentTarget[]): Promise<void>;
  getDeployment(id: string): Promise<DeploymentRecord | undefined>;
  /** Newest first. */
  listDeployments(filter?: { model?: string; agent?: string; limit?: number }): Promise<DeploymentRecord[]>;
  updateDeployment(id: string, patch: Partial<Pick<DeploymentRecord, 'state' | 'reason' | 'updatedAt'>>): Promise<void>;
  listTargets(deployment: string): Promise<DeploymentTarget[]>;
  /** Targets of one agent across deployments, newest deployment first. */
  targetsOfAgent(agent: string): Promise<DeploymentTarget[]>;
  updateTarget(deployment: string, agent: string, patch: Partial<Pick<DeploymentTarget, 'status' | 'reason' | 'shadowUntil' | 'updatedAt'>>): Promise<void>;

  // API tokens (the command line and, later, users)
  createApiToken(token: ApiTokenRecord): Promise<void>;
  getApiToken(id: string): Promise<ApiTokenRecord | undefined>;
  listApiTokens(): Promise<ApiTokenRecord[]>;
  revokeApiToken(id: string, at: number): Promise<boolean>;

  // Users and their web sessions
  /** Rejects with VIGIL_API_CONFLICT when the name exists. */
  createUser(user: UserRecord): Promise<void>;
  getUser(name: string): Promise<UserRecord | undefined>;
  /** By name. */
  listUsers(): Promise<UserRecord[]>;
  /** The user after the change; undefined when there is no such user. */
  updateUser(name: string, patch: Partial<Pick<UserRecord, 'role' | 'passwordHash' | 'disabled' | 'updatedAt'>>): Promise<UserRecord | undefined>;
  /** Deletes the user and their sessions; false when there is no such user. */
  deleteUser(name: string): Promise<boolean>;
  /** Rejects with VIGIL_API_CONFLICT when the id hash exists. */
  createSession(session: SessionRecord): Promise<void>;
  getSession(idHash: string): Promise<SessionRecord | undefined>;
  /** Moves lastSeenAt forward (never back); nothing when the session is gone. */
  touchSession(idHash: string, lastSeenAt: number): Promise<void>;
  /** false when there was no such session. */
  deleteSession(idHash: string): Promise<boolean>;
  /** Ends every session of one user (password changed, disabled); how many there were. */
  deleteUserSessions(user: string): Promise<number>;
  /** Removes sessions last seen before `lastSeenBefore` (idle-expired); how many there were. */
  deleteIdleSessions(lastSeenBefore: number): Promise<number>;

  // Small settings (e.g. the digest's last run)
  getMeta<T>(key: string): Promise<T | undefined>;
  setMeta(key: string, value: unknown): Promise<void>;
  /** Stores `value` unless the key has one; resolves to the value stored (the first writer wins across replicas). */
  initMeta<T>(key: string, value: T): Promise<T>;
  /**
   * Sets the key to `next` only when it now holds `expected` (deep equality;
   * undefined = no value); true when it did. Replicas claim scheduled work
   * with it, so exactly one of them does the work.
   */
  compareAndSetMeta(key: string, expected: unknown, next: unknown): Promise<boolean>;
  /** Every key and value, by key. */
  listMeta(): Promise<Array<{ key: string; value: unknown }>>;

  // Replicas sharing this storage
  /**
   * Runs `work` while holding the lock `name`, exclusive across every replica
   * sharing this storage (PostgreSQL: an advisory lock; LMDB: one process, so
   * a lock inside it). Locks are not re-entrant.
   */
  withLock<T>(name: string, work: () => Promise<T>): Promise<T>;
  /**
   * Sends a small JSON message (≤ FLEET_MESSAGE_MAX_BYTES serialised) to every
   * subscriber of every replica sharing this storage, this one included
   * (PostgreSQL: NOTIFY; LMDB: within the process). Delivery is best effort:
   * a replica that is disconnected from the database at that moment misses it.
   */
  publish(message: unknown): Promise<void>;
  /** Calls `listener` with every published message; returns the unsubscribe function. */
  subscribe(listener: (message: unknown) => void): () => void;

  // Moving a hub (vigil hub export | import)
  /**
   * Every record of a stream exactly once, in a stable order of the backend's
   * choosing, `limit` at a time: pass the returned `next` back to continue;
   * `next` is null after the last page.
   */
  scanRecords(stream: SyncStream, cursor: string | null, limit: number): Promise<{ records: StoredRecord[]; next: string | null }>;

  close(): Promise<void>;
}

/** The event type stored in the `events` stream, re-exported for hub readers. */
export type { AgentEvent };
