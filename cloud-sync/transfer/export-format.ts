import type { AgentRecord, ApiTokenRecord, DeploymentRecord, DeploymentTarget, ModelVersionRecord, Resolution, UserRecord } from '../storage/hub-storage.js';
import type { SyncStream } from '../../shared/sync-protocol.js';

/**
 * `vigil hub export` writes a hub as JSON lines, one item per line, so a hub
 * with millions of records streams through in constant memory and the file
 * can be inspected with ordinary tools. The first line is the header, the
 * last the end line with counts: an import checks both before it writes
 * anything, so a truncated file is refused, not half imported.
 */
export const EXPORT_FORMAT = 'vigil-hub-export';
export const EXPORT_VERSION = 1;

export type ExportLine =
  | { kind: 'header'; format: typeof EXPORT_FORMAT; version: number; from: { storage: 'lmdb' | 'postgres'; hub: string }; exportedAt: number }
  | { kind: 'signing-key'; privateKeyPem: string }
  | { kind: 'meta'; key: string; value: unknown }
  | { kind: 'agent'; agent: AgentRecord }
  | { kind: 'api-token'; token: ApiTokenRecord }
  | { kind: 'user'; user: UserRecord }
  | { kind: 'model'; version: ModelVersionRecord; packageBase64: string }
  | { kind: 'deployment'; deployment: DeploymentRecord; targets: DeploymentTarget[] }
  /** Records of one ingest as stored: same stream, agent, epoch and receive time. */
  | { kind: 'records'; stream: SyncStream; agent: string; epoch: string; receivedAt: number; records: Array<{ seq: number; at: number; body: unknown }> }
  | { kind: 'resolution'; episode: string; resolution: Resolution }
  | { kind: 'end'; counts: ExportCounts };

export interface ExportCounts {
  agents: number;
  apiTokens: number;
  users: number;
  models: number;
  deployments: number;
  records: number;
  resolutions: number;
  meta: number;
}

export function emptyCounts(): ExportCounts {
  return { agents: 0, apiTokens: 0, users: 0, models: 0, deployments: 0, records: 0, resolutions: 0, meta: 0 };
}

/**
 * Meta keys that belong to one running store, not to the hub: the LMDB open
 * marker, history handed between replicas, and the shared signing key (moved
 * as its own line).
 */
export function isPortableMeta(key: string, value: unknown): boolean {
  return value !== null && !key.startsWith('store:') && !key.startsWith('history-transfer:') && key !== 'hub:signing-key';
}
