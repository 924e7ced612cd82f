import { randomUUID } from 'node:crypto';
import { describeError, ERROR_CODES, VigilError, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { FetchedSeries, HistoryFetch, HistoryRequests } from '../gateway/history-requests.js';
import type { HubStorage } from '../storage/hub-storage.js';
import type { Fleet } from './fleet.js';
import type { FleetMessage } from './fleet-messages.js';

/** A remote fetch is given up after this long in all (the replica holding the agent times out idle agents itself). */
const REMOTE_TIMEOUT_MS = 10 * 60_000;
const TRANSFER_META_PREFIX = 'history-transfer:';

interface Waiting {
  key: string;
  timer: NodeJS.Timeout;
  resolve: (series: FetchedSeries[]) => void;
  reject: (err: Error) => void;
}

/**
 * History requests across replicas. An agent's raw history can only be asked
 * for over its own connection, which may be on another replica than the one
 * the admin's request (`POST /api/models/train`) reached. Then this replica
 * sends `history-fetch` to the agent's replica, which fetches as usual, puts
 * the series in storage (meta `history-transfer:<id>`: too big for a fleet
 * message) and answers `history-done`; this replica reads and clears it.
 */
export class FleetHistory implements Pick<HistoryRequests, 'fetch'> {
  private readonly waiting = new Map<string, Waiting>();
  private off: (() => void) | undefined;

  constructor(
    private readonly deps: { fleet: Fleet; local: Pick<HistoryRequests, 'fetch'>; storage: HubStorage; log: Logger },
  ) {}

  start(): void {
    this.off = this.deps.fleet.on((message) => this.receive(message));
  }

  stop(): void {
    this.off?.();
    for (const [request, w] of this.waiting) this.settle(request, w, new VigilError('VIGIL_HUB_UNREACHABLE', 'the hub is shutting down'));
  }

  fetch(agent: string, what: HistoryFetch): Promise<FetchedSeries[]> {
    const { fleet } = this.deps;
    const replica = fleet.replicaOf(agent);
    if (replica === undefined || replica === fleet.replica) return this.deps.local.fetch(agent, what);
    const request = randomUUID();
    const key = TRANSFER_META_PREFIX + request;
    return new Promise<FetchedSeries[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        const w = this.waiting.get(request);
        if (w) this.settle(request, w, new VigilError('VIGIL_API_CONFLICT', `hub replica ${replica}, where agent ${agent} is connected, did not answer the history request in time; try again`, { details: { agent, replica } }));
      }, REMOTE_TIMEOUT_MS);
      timer.unref();
      this.waiting.set(request, { key, timer, resolve, reject });
      this.deps.log.info({ agent, replica, request }, 'asking the replica the agent is connected to for its history');
      fleet.send({ type: 'history-fetch', request, origin: fleet.replica, replica, agent, key, what });
    });
  }

  private receive(message: FleetMessage): void {
    const self = this.deps.fleet.replica;
    if (message.type === 'history-fetch' && message.replica === self) void this.answer(message);
    if (message.type === 'history-done' && message.origin === self) void this.collect(message);
  }

  /** On the agent's replica: fetch over the local connection, leave the series in storage, say so. */
  private async answer(m: Extract<FleetMessage, { type: 'history-fetch' }>): Promise<void> {
    const { fleet, local, storage } = this.deps;
    let error: { code: string; message: string } | null = null;
    try {
      const series = await local.fetch(m.agent, m.what);
      await storage.setMeta(m.key, series);
    } catch (err) {
      error = { code: err instanceof VigilError ? err.code : 'VIGIL_HUB_STORAGE_FAILED', message: describeError(err) };
    }
    fleet.send({ type: 'history-done', request: m.request, origin: m.origin, error });
  }

  private async collect(m: Extract<FleetMessage, { type: 'history-done' }>): Promise<void> {
    const w = this.waiting.get(m.request);
    if (!w) return;
    if (m.error) {
      const code = (m.error.code in ERROR_CODES ? m.error.code : 'VIGIL_API_CONFLICT') as ErrorCode;
      return this.settle(m.request, w, new VigilError(code, m.error.message));
    }
    try {
      const series = await this.deps.storage.getMeta<FetchedSeries[]>(w.key);
      await this.deps.storage.setMeta(w.key, null);
      if (!Array.isArray(series)) throw new VigilError('VIGIL_HUB_STORAGE_FAILED', `the history handed over under ${w.key} is missing`);
      this.settle(m.request, w, null, series);
    } catch (err) {
      this.settle(m.request, w, err instanceof Error ? err : new Error(String(err)));
    }
  }

  private settle(request: string, w: Waiting, error: Error | null, series: FetchedSeries[] = []): void {
    this.waiting.delete(request);
    clearTimeout(w.timer);
    if (error) w.reject(error);
    else w.resolve(series);
  }
}
