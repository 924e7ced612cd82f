/**
 * Shapes of the hub's JSON answers as the web app reads them. Episodes come
 * from shared/episode.ts (plain types, no Node); the rest is written out here
 * because the hub's own declarations pull in Node types (Buffer) the browser
 * build must not see. cloud-sync/web/api-types-check.ts, compiled with the
 * hub's tsconfig, fails when these drift from the hub's types.
 */
import type { Episode } from '../../../../shared/episode.js';

export type { Episode };
export type { TagSnapshot } from '../../../../shared/episode.js';

export type ResolutionLabel = 'real' | 'normal' | 'unsure';

export interface Resolution {
  label: ResolutionLabel;
  cause: string | null;
  note: string | null;
  by: string;
  at: number;
}

export interface ModelVersions {
  name: string;
  active: string | null;
  shadow: string | null;
  previous: string | null;
  state: 'scoring' | 'stopped' | 'no version';
}

export interface AgentHealth {
  sourcesConnected: number;
  sourcesTotal: number;
  tagsLive: number;
  tagsConfigured: number;
  /** Records waiting in the outbox per stream. */
  backlog: { scores: number; episodes: number; events: number };
  backlogBytes: number;
  dropsTotal: number;
  cpuPercent: number;
  rssBytes: number;
  uptimeS: number;
  status: 'ok' | 'degraded';
  reasons: string[];
}

export interface AgentView {
  id: string;
  labels: Record<string, string>;
  online: boolean;
  connectedTo: string | null;
  lastSeenAt: number | null;
  createdAt: number;
  revoked: boolean;
  revokedAt: number | null;
  software: string | null;
  epoch: string | null;
  models: ModelVersions[];
  health: AgentHealth | null;
  /** Agent clock minus hub clock, ms. */
  skewMs: number | null;
  /** |skewMs| beyond the hub's sync.maxSkewMs. */
  skewed: boolean;
}

export type DeploymentStatus = 'pending' | 'downloading' | 'shadow' | 'active' | 'refused' | 'failed' | 'rolled_back';

export interface DeploymentRecord {
  id: string;
  model: string;
  version: string;
  mode: 'shadow' | 'activate';
  shadowMs: number | null;
  selector: { agents: string[]; labels: Record<string, string> };
  canary: number | null;
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
  previousVersion: string | null;
  shadowUntil: number | null;
  updatedAt: number;
}

export interface ModelVersionSummary {
  name: string;
  version: string;
  description: string;
  sha256: string;
  size: number;
  uploadedAt: number;
  uploadedBy: string;
}

export interface VersionPerformance {
  model: string;
  version: string;
  episodes: number;
  real: number;
  normal: number;
  unsure: number;
  unresolved: number;
  firstStart: number | null;
  lastStart: number | null;
}

export type Role = 'viewer' | 'operator' | 'admin';

export interface SessionUser {
  name: string;
  role: Role;
}

export interface SessionAnswer {
  user: SessionUser;
  csrfToken: string;
}

/** An episode in a list: everything but the snapshot. */
export interface EpisodeSummary {
  episode: Omit<Episode, 'snapshot'>;
  resolution: Resolution | null;
  firstReceivedAt: number;
  updatedAt: number;
}

export interface EpisodeList {
  episodes: EpisodeSummary[];
  limit: number;
  offset: number;
}

export interface EpisodeDetail {
  episode: Episode;
  resolution: Resolution | null;
  firstReceivedAt: number;
  updatedAt: number;
}

export interface Digest {
  generatedAt: number;
  waiting: number;
  byModel: Array<{ model: string; waiting: number }>;
  oldestWaitingSince: number | null;
  /** Summaries, highest severity first; the shape of list entries or bare episodes. */
  episodes: unknown[];
}

export interface ScorePoint {
  start: number;
  end: number;
  score: number;
  level: string;
  version: string;
  shadow: boolean;
}

export interface EpisodeScores {
  thresholds: { warn: number; alarm: number };
  scores: ScorePoint[];
}

export interface ScoreHistogram {
  total: number;
  alarms: number;
  warns: number;
  alarmsPerDay: number | null;
  firstEnd: number | null;
  lastEnd: number | null;
  bins: Array<{ lo: number; hi: number; count: number }>;
}

export interface ModelEntry {
  name: string;
  description: string;
  latest: string;
  versions: ModelVersionSummary[];
}

export interface VersionPerformanceView extends VersionPerformance {
  episodesPerDay: number;
  realShare: number | null;
  normalShare: number | null;
  resolvedShare: number | null;
}

export interface DeploymentSummary extends DeploymentRecord {
  counts: Partial<Record<DeploymentStatus, number>>;
  agents: number;
}

export interface DeploymentView extends DeploymentRecord {
  /** Each target with the version it deploys (a rollback returns each agent to its own previous version). */
  targets: Array<DeploymentTarget & { version: string | null }>;
}

export interface UserView {
  name: string;
  role: Role;
  createdAt: number;
  disabled: boolean;
}

export interface CreatedAgent {
  agent: AgentView;
  /** Shown once: the hub keeps only a salted hash. */
  token: string;
  note: string;
}

/** One side of a shadow deployment's comparison (cloud-sync/api/shadow-comparison.ts). */
export interface ShadowComparisonSide {
  version: string | null;
  windows: number;
  alarms: number;
  warns: number;
  alarmsPerDay: number | null;
}

/** GET /api/deployments/:id/comparison (cloud-sync/api/shadow-comparison.ts). */
export interface ShadowComparisonAnswer {
  deployment: string;
  model: string;
  candidate: ShadowComparisonSide;
  active: ShadowComparisonSide & { versions: string[] };
  windows: number;
  firstEnd: number | null;
  lastEnd: number | null;
  eventTimeMs: number;
  gateways: Array<{ agent: string; windows: number; candidateAlarms: number; activeAlarms: number; recordsRead: number; capped: boolean }>;
  recordCap: number;
  capped: boolean;
}
