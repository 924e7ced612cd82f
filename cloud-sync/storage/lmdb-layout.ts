import { mkdirSync } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import { whenDurable } from '../../agent/store/when-durable.js';
import { VigilError, describeError } from '../../shared/errors.js';
import type { SyncStream } from '../../shared/sync-protocol.js';
import type { TagSnapshot } from '../../shared/episode.js';
import type { AgentRecord, ApiTokenRecord, DeploymentRecord, DeploymentTarget, ModelVersionRecord, ResolutionLabel, StoredEpisode } from './hub-storage.js';

/**
 * The hub's sub-databases, in one place (see README.md for the layout). Keys
 * are lmdb-js ordered-binary arrays; values msgpack unless noted.
 */
export interface HubDbs {
  env: RootDatabase;
  agents: Database<AgentRecord, string>;
  /** [stream, agent, epoch, seq] → `{ at, receivedAt, body }` (msgpack: encodes faster than JSON — no float printing — and is smaller). */
  records: Database<RecordValue, RecordKey>;
  /** [stream, agent, epoch] → highest seq stored and how many records. */
  cursors: Database<StreamCursor, [SyncStream, string, string]>;
  /** [stream, receivedAt, agent, epoch, first new seq] → the batch's new seqs: newest-first listing without a per-record index. */
  batchesByTime: Database<BatchEntry, [SyncStream, number, string, string, number]>;
  /** [agent, stream, receivedAt, epoch, first new seq] → same, for listing one agent. */
  batchesByAgent: Database<BatchEntry, [string, SyncStream, number, string, number]>;
  /** id → latest revision without its snapshot, plus resolution. */
  episodes: Database<StoredEpisode, string>;
  /** id → the latest revision's snapshot (large; lists never read it). */
  snapshots: Database<TagSnapshot[], string>;
  /** [rank, -start, id] → what filters need: lists read in key order. */
  episodeOrder: Database<EpisodeIndexEntry, EpisodeOrderKey>;
  models: Database<ModelVersionRecord, [string, string]>;
  /** [name, version] → package bytes (binary). */
  packages: Database<Buffer, [string, string]>;
  deployments: Database<DeploymentRecord, string>;
  targets: Database<DeploymentTarget, [string, string]>;
  /** [agent, deployment] → null. */
  targetsByAgent: Database<null, [string, string]>;
  apiTokens: Database<ApiTokenRecord, string>;
  meta: Database<unknown, string>;
}

export type RecordKey = [SyncStream, string, string, number];

export interface RecordValue {
  at: number;
  receivedAt: number;
  body: unknown;
}
export type EpisodeOrderKey = [number, number, string];

export interface StreamCursor {
  upTo: number;
  count: number;
}

export interface BatchEntry {
  /** Seqs stored by this batch as inclusive runs: [from, to, from, to, …]. */
  runs: number[];
  /** Distinct `body.model` values of those records, so a model filter skips whole batches. */
  models: string[];
}

export interface EpisodeIndexEntry {
  agent: string;
  model: string;
  version: string;
  start: number;
  end: number | null;
  label: ResolutionLabel | null;
}

/** Sorts after every key that shares the prefix before it (0xff never starts an ordered-binary element). */
export const KEY_MAX = Buffer.from([0xff]);

/**
 * Plain msgpack maps: msgpackr's inline record structures cost more to encode
 * than they save on ~300-byte bodies (the ingest hot path). lmdb-js hands the
 * option to msgpackr; its typings do not list it.
 */
const PLAIN_MSGPACK = { useRecords: false };

/** Address space reserved up front; lmdb-js grows the map inside a write when a transaction needs more. */
const DEFAULT_MAP_SIZE = 1024 ** 3;

export function openHubDbs(dir: string, mapSize = DEFAULT_MAP_SIZE): HubDbs {
  let env: RootDatabase | undefined;
  try {
    mkdirSync(dir, { recursive: true });
    // Default overlappingSync stays on (durability = `flushed`, see durableWrite);
    // never noSync, which has corrupted environments on hard kills.
    env = open({ path: dir, mapSize, maxDbs: 20 });
    return {
      env,
      agents: env.openDB({ name: 'agents' }),
      records: env.openDB({ name: 'records', ...PLAIN_MSGPACK }),
      cursors: env.openDB({ name: 'cursors' }),
      batchesByTime: env.openDB({ name: 'batches-by-time' }),
      batchesByAgent: env.openDB({ name: 'batches-by-agent' }),
      episodes: env.openDB({ name: 'episodes' }),
      snapshots: env.openDB({ name: 'episode-snapshots' }),
      episodeOrder: env.openDB({ name: 'episode-order' }),
      models: env.openDB({ name: 'models' }),
      packages: env.openDB({ name: 'packages', encoding: 'binary' }),
      deployments: env.openDB({ name: 'deployments' }),
      targets: env.openDB({ name: 'targets' }),
      targetsByAgent: env.openDB({ name: 'targets-by-agent' }),
      apiTokens: env.openDB({ name: 'api-tokens' }),
      meta: env.openDB({ name: 'meta' }),
    };
  } catch (err) {
    void env?.close();
    throw new VigilError('VIGIL_HUB_STORAGE_FAILED', `the hub store in ${dir} could not be opened: ${describeError(err)}`, { cause: err });
  }
}

/**
 * Runs `action` in its own abortable (child) transaction and resolves once
 * that is durable. A plain lmdb-js `transaction` callback that throws halfway
 * would still commit its earlier writes with the batch it shares; a child
 * transaction is rolled back whole. VigilErrors thrown on purpose (conflict,
 * not found) pass through; anything else becomes VIGIL_HUB_STORAGE_FAILED.
 */
export async function durableWrite<T>(env: RootDatabase, action: () => T): Promise<T> {
  try {
    return await whenDurable(env, env.childTransaction(action));
  } catch (err) {
    if (err instanceof VigilError) throw err;
    throw new VigilError('VIGIL_HUB_STORAGE_FAILED', `a hub storage write failed: ${describeError(err)}`, { cause: err, retryable: true });
  }
}
