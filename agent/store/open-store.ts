import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { Logger } from '../../shared/logger.js';
import { describeError } from '../../shared/errors.js';
import { AgentState } from './agent-state.js';
import { History, type HistoryCounters } from './history.js';
import { ModelStore } from './model-store.js';
import { Outbox } from './outbox.js';
import { probeEnvironment } from './probe-environment.js';
import { Quota, type EvictionKind, type StoreEvent } from './quota.js';
import { whenDurable } from './when-durable.js';

export type { StoreEvent } from './quota.js';

export interface AgentStoreOptions {
  /** The environment folder: `<dataDir>/store`. Quarantine goes to `<dataDir>/store-quarantine/`. */
  dir: string;
  /** Logical bytes allowed for outbox + history (see quota.ts). */
  quotaBytes: number;
  historyHours: number;
  log: Logger;
  onEvent?: (event: StoreEvent) => void;
  /** Agent id written into the store's own events (default "agent"). */
  agent?: string;
  /** Initial map size; lmdb-js grows it by itself when full (default 1 GiB of address space, not disk). */
  mapSize?: number;
  /** Wall clock, for tests (default Date.now). */
  now?: () => number;
  historyFlushIntervalMs?: number;
  historyRetentionIntervalMs?: number;
}

export interface StoreCounters {
  evicted: Record<EvictionKind, number>;
  evictedBytes: Record<EvictionKind, number>;
  evictionFailures: number;
  outboxWriteFailures: number;
  history: HistoryCounters;
  /** 1 when this open moved a damaged environment aside. */
  quarantined: number;
  /** Reader slots of killed processes cleared (at open and every minute). */
  staleReadersCleared: number;
}

export interface StoreSize {
  outbox: number;
  history: number;
  /** outbox + history: what the quota limits. */
  used: number;
  quota: number;
  /** Size of data.mdb on disk (never shrinks; freed pages are reused). */
  file: number;
}

export interface AgentStore {
  outbox: Outbox;
  history: History;
  models: ModelStore;
  state: AgentState;
  /** Where a damaged environment was moved at this open, else null. */
  quarantinedTo: string | null;
  /** Random id of this store, made when it was created (a quarantined → fresh store gets a new one); the hub keys records by it. */
  epoch: string;
  counters(): StoreCounters;
  sizeBytes(): StoreSize;
  /** Clears reader slots of dead processes now (also done every minute); returns how many. */
  checkReaders(): number;
  /** Runs a quota check now (it also runs after every write). */
  enforceQuota(): Promise<void>;
  close(): Promise<void>;
}

/** Address space reserved up front; lmdb-js doubles it inside a write when a transaction needs more. */
const DEFAULT_MAP_SIZE = 1024 ** 3;

interface Dbs {
  env: RootDatabase;
  outbox: Database<Buffer, [string, number]>;
  meta: Database<unknown, string>;
  history: Database<Buffer, [string, number, number]>;
  models: Database<Buffer, string>;
  state: Database<unknown, string>;
}

function openDbs(dir: string, mapSize: number): Dbs {
  // Default overlappingSync stays on (durability = `flushed`); never noSync,
  // which has corrupted environments on hard kills.
  const env = open({ path: dir, mapSize, maxDbs: 8 });
  try {
    const dbs: Dbs = {
      env,
      outbox: env.openDB({ name: 'outbox', encoding: 'binary' }),
      meta: env.openDB({ name: 'meta' }),
      history: env.openDB({ name: 'history', encoding: 'binary' }),
      models: env.openDB({ name: 'models', encoding: 'binary' }),
      state: env.openDB({ name: 'state' }),
    };
    // Sanity read: meta pages, the sub-database roots and one entry of each.
    env.getStats();
    for (const db of [dbs.outbox, dbs.meta, dbs.history, dbs.models, dbs.state]) for (const _ of db.getKeys({ limit: 1 }));
    return dbs;
  } catch (err) {
    void env.close();
    throw err;
  }
}

function quarantine(dir: string, stamp: Date): string {
  const target = join(dirname(dir), 'store-quarantine', stamp.toISOString().replace(/[:.]/g, '-'));
  mkdirSync(dirname(target), { recursive: true });
  renameSync(dir, target);
  return target;
}

/**
 * Opens the agent's one LMDB environment. A damaged environment (the probe
 * child crashes or fails, or opening here throws) is moved to
 * `<dataDir>/store-quarantine/<timestamp>/`, a fresh one is opened and
 * `store_quarantined` is raised: the agent keeps collecting.
 */
export async function openAgentStore(options: AgentStoreOptions): Promise<AgentStore> {
  const { dir, log } = options;
  const now = options.now ?? Date.now;
  const mapSize = options.mapSize ?? DEFAULT_MAP_SIZE;
  mkdirSync(dirname(dir), { recursive: true });

  let quarantinedTo: string | null = null;
  const moveAside = (reason: string): void => {
    quarantinedTo = quarantine(dir, new Date(now()));
    const message = `the store could not be opened (${reason}); it was moved to ${quarantinedTo} and a fresh store started`;
    log.error({ reason, quarantinedTo }, message);
    options.onEvent?.({ kind: 'store_quarantined', message, details: { reason, quarantinedTo } });
  };

  const probe = await probeEnvironment(dir);
  if (probe.state === 'damaged') moveAside(probe.reason);
  else if (probe.state === 'unknown') log.warn({ dir, reason: probe.reason }, 'store check inconclusive; opening it anyway');

  let dbs: Dbs;
  try {
    dbs = openDbs(dir, mapSize);
  } catch (err) {
    if (quarantinedTo !== null || !existsSync(dir)) throw err;
    moveAside(describeError(err));
    dbs = openDbs(dir, mapSize);
  }
  // A killed process (say a CLI reading the store while the agent runs) leaves
  // its reader slot behind, and the slot pins old pages: the file only grows.
  // LMDB resets the table when the first process opens the environment; while
  // the agent runs, only readerCheck clears them.
  let staleReadersCleared = 0;
  const checkReaders = (): number => {
    const cleared = dbs.env.readerCheck();
    staleReadersCleared += cleared;
    if (cleared > 0) log.info({ cleared }, 'cleared reader slots left by killed processes');
    return cleared;
  };
  checkReaders();
  const readerTimer = setInterval(checkReaders, 60_000).unref();

  // Open barrier: a flushed write syncs everything an earlier (killed) process
  // committed, so every record on disk may be handed to the hub.
  const state = new AgentState(dbs.state);
  await whenDurable(dbs.state, dbs.state.put('store:openedAt', now()));
  const epoch = await state.ensureEpoch();

  const agent = options.agent ?? 'agent';
  const outbox = new Outbox({ records: dbs.outbox, meta: dbs.meta, agent, log, now });
  const history = new History({
    blocks: dbs.history,
    meta: dbs.meta,
    historyHours: options.historyHours,
    log,
    now,
    flushIntervalMs: options.historyFlushIntervalMs,
    retentionIntervalMs: options.historyRetentionIntervalMs,
  });
  const quota = new Quota({ quotaBytes: options.quotaBytes, outbox, history, agent, log, now, onEvent: options.onEvent });
  outbox.onCommitted(() => quota.check());
  history.onFlushed(() => quota.check());
  quota.check();

  let closing: Promise<void> | null = null;
  const quarantined = quarantinedTo === null ? 0 : 1;
  return {
    outbox,
    history,
    models: new ModelStore(dbs.models),
    state,
    quarantinedTo,
    epoch,
    checkReaders,
    counters: () => {
      const q = quota.counters();
      return {
        evicted: q.evicted,
        evictedBytes: q.evictedBytes,
        evictionFailures: q.failures,
        outboxWriteFailures: outbox.failures(),
        history: history.snapshot(),
        quarantined,
        staleReadersCleared,
      };
    },
    sizeBytes: () => {
      const file = existsSync(join(dir, 'data.mdb')) ? statSync(join(dir, 'data.mdb')).size : 0;
      return { outbox: outbox.bytes(), history: history.bytes(), used: quota.usedBytes(), quota: options.quotaBytes, file };
    },
    enforceQuota: async () => {
      await quota.idle();
      quota.check();
      await quota.idle();
    },
    close: () => {
      closing ??= (async () => {
        clearInterval(readerTimer);
        await history.close();
        await quota.idle();
        await outbox.close();
        await dbs.env.close();
      })();
      return closing;
    },
  };
}
