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
  /**
   * [stream, agent, epoch, first seq it stored] → the records one ingest
   * stored, as columns, in JSON: one value per batch instead of one per
   * record (a 2,000-record batch is one put). JSON, not msgpack: on values
   * of a few MB msgpackr took ~3 µs a record alone and ~13 µs inside the hub
   * under bench:sync, the native JSON.stringify ~1.7 and ~3 µs.
   */
  recordBatches: Database<RecordBatch, SeqKey>;
  /** [stream, agent, epoch] → the highest seq stored, how many records, and the open run (see StreamCursor). */
  cursors: Database<StreamCursor, [SyncStream, string, string]>;
  /** [stream, agent, epoch, first seq] → last seq: runs of stored seqs below the cursor's open run (only after gaps). */
  seqRuns: Database<number, SeqKey>;
  /** [stream, receivedAt, agent, epoch, first seq it stored] → filters of that batch: newest-first listing. */
  batchesByTime: Database<BatchEntry, [SyncStream, number, string, string, number]>;
  /** [agent, stream, receivedAt, epoch, first seq it stored] → same, for listing one agent. */
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

/** [stream, agent, epoch, seq] */
export type SeqKey = [SyncStream, string, string, number];

/**
 * The records of one batch, column by column: seqs[i], ats[i] and the body of
 * record i are one record. The body is `bodies[i]`, or — in a batch stored as
 * its records arrived (every record new, see LmdbRecords.writeBatch) —
 * `records[i].body`, the received `{seq, at, body}` objects.
 */
export type RecordBatch = { receivedAt: number; seqs: number[]; ats: number[] } & (
  | { bodies: unknown[]; records?: undefined }
  | { records: Array<{ body?: unknown }>; bodies?: undefined }
);

/** Record i's body, whichever way its batch was stored. */
export function bodyAt(batch: RecordBatch, i: number): unknown {
  if (batch.bodies !== undefined) return batch.bodies[i];
  // An absent body reads as null, as the JSON encoding of `bodies` stores undefined.
  const body = batch.records[i]?.body;
  return body === undefined ? null : body;
}

export type EpisodeOrderKey = [number, number, string];

/**
 * Which seqs the hub has, in O(1) for the usual case: every seq in
 * [runStart, upTo] is stored (the open run, which grows as the agent sends in
 * order); below runStart only the closed runs in `seqRuns` are. An empty
 * stream has upTo 0 and runStart 1.
 */
export interface StreamCursor {
  upTo: number;
  count: number;
  runStart: number;
}

export interface BatchEntry {
  /** Distinct `body.model` values of the batch's records, so a model filter skips whole batches. */
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

/** Address space reserved up front; lmdb-js grows the map inside a write when a transaction needs more. */
const DEFAULT_MAP_SIZE = 1024 ** 3;

export function openHubDbs(dir: string, mapSize = DEFAULT_MAP_SIZE): HubDbs {
  let env: RootDatabase | undefined;
  try {
    mkdirSync(dir, { recursive: true });
    // overlappingSync off: the admin commands (`vigil hub tokens add`, `agents
    // add`, `users add`) open this environment from their own process beside
    // the running hub, and with lmdb-js 3.5's default overlappingSync such an
    // opening cost the hub an acknowledged write about once in 40 openings
    // while it wrote continuously (once in CI a token `tokens add` had printed
    // was never found); off, about once in 640 (npm run
    // repro:hub-store-openings; storage README, "Admin commands beside a
    // running hub"). Each commit is then synced before the write lock is
    // released. Never noSync either, which has corrupted environments on hard
    // kills.
    env = open({ path: dir, mapSize, maxDbs: 32, overlappingSync: false });
    return {
      env,
      agents: env.openDB({ name: 'agents' }),
      recordBatches: env.openDB({ name: 'record-batches', encoding: 'json' }),
      cursors: env.openDB({ name: 'record-cursors' }),
      seqRuns: env.openDB({ name: 'record-runs' }),
      batchesByTime: env.openDB({ name: 'record-batches-by-time' }),
      batchesByAgent: env.openDB({ name: 'record-batches-by-agent' }),
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
