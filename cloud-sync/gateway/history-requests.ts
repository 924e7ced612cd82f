import { randomUUID } from 'node:crypto';
import { VigilError } from '../../shared/errors.js';
import type { HistoryChunk, HistoryError } from '../../shared/sync-protocol.js';
import type { AgentChannels } from './agent-channels.js';

/** One tag's samples as the agent's history holds them, in time order. */
export interface FetchedSeries {
  tag: string;
  ts: number[];
  values: Array<number | null>;
  quality: Array<'good' | 'uncertain' | 'bad'>;
}

export interface HistoryFetch {
  tags: string[];
  from: number;
  to: number;
  /** Most samples per tag the agent may send; more is an error on the agent's side. */
  maxSamples: number;
}

/** What the gateway hands over: history answers that arrived on an agent's connection. */
export interface HistoryListener {
  onHistoryMessage(agent: string, message: HistoryChunk | HistoryError): void;
}

export interface HistoryRequestsOptions {
  /** Give up when the agent sent nothing for this long (no answer, or between chunks), ms. Default 30 s. */
  idleTimeoutMs?: number;
}

interface Pending {
  agent: string;
  series: Map<string, FetchedSeries>;
  timer: NodeJS.Timeout;
  resolve: (series: FetchedSeries[]) => void;
  reject: (err: Error) => void;
}

const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/**
 * The hub's side of history requests: sends `history_request` to an agent
 * connected to THIS replica and collects its `history_chunk`s (until `last`)
 * or its `history_error`. Each request has its own id; answers for unknown
 * ids (given up, another agent's) are ignored. A request is given up when the
 * agent is silent on it for idleTimeoutMs — also when its connection dropped
 * (the agent does not resume an answer on a new connection).
 *
 * Errors: agent not connected here → VIGIL_API_CONFLICT; the agent's
 * history_error → VIGIL_TRAINING_DATA_INVALID (its message); silence →
 * VIGIL_API_CONFLICT as well (the agent is not there to answer).
 */
export class HistoryRequests implements HistoryListener {
  private readonly pending = new Map<string, Pending>();
  private readonly idleTimeoutMs: number;

  constructor(
    private readonly channels: AgentChannels,
    options: HistoryRequestsOptions = {},
  ) {
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  }

  fetch(agent: string, what: HistoryFetch): Promise<FetchedSeries[]> {
    const channel = this.channels.get(agent);
    if (!channel) {
      return Promise.reject(new VigilError('VIGIL_API_CONFLICT', `agent ${agent} is not connected to this hub; its history can only be fetched while it is online`, { details: { agent } }));
    }
    const request = randomUUID();
    return new Promise<FetchedSeries[]>((resolve, reject) => {
      const pending: Pending = {
        agent,
        series: new Map(what.tags.map((tag) => [tag, { tag, ts: [], values: [], quality: [] }])),
        timer: setTimeout(() => this.giveUp(request), this.idleTimeoutMs),
        resolve,
        reject,
      };
      this.pending.set(request, pending);
      const sent = channel.send({ type: 'history_request', request, tags: what.tags, from: what.from, to: what.to, maxSamples: what.maxSamples });
      if (!sent) this.finish(request, new VigilError('VIGIL_API_CONFLICT', `agent ${agent} is not connected to this hub (its connection is gone or congested)`, { details: { agent } }));
    });
  }

  onHistoryMessage(agent: string, message: HistoryChunk | HistoryError): void {
    const pending = this.pending.get(message.request);
    if (!pending || pending.agent !== agent) return;
    if (message.type === 'history_error') {
      return this.finish(message.request, new VigilError('VIGIL_TRAINING_DATA_INVALID', `agent ${agent} cannot provide the history: ${message.message}`, { details: { agent } }));
    }
    const series = pending.series.get(message.tag);
    if (!series) return this.finish(message.request, new VigilError('VIGIL_SYNC_PROTOCOL', `agent ${agent} sent history of tag ${message.tag}, which was not asked for`, { details: { agent } }));
    // Spread one by one: a chunk holds up to 50,000 samples, too many for push(...args).
    for (let i = 0; i < message.ts.length; i++) {
      series.ts.push(message.ts[i]!);
      series.values.push(message.values[i]!);
      series.quality.push(message.quality[i]!);
    }
    pending.timer.refresh();
    if (message.last) this.finish(message.request, null);
  }

  /** Requests still waiting for an answer. */
  get size(): number {
    return this.pending.size;
  }

  /** Rejects every waiting request (the hub is stopping). */
  stop(): void {
    for (const request of [...this.pending.keys()]) this.finish(request, new VigilError('VIGIL_HUB_UNREACHABLE', 'the hub is shutting down'));
  }

  private giveUp(request: string): void {
    const agent = this.pending.get(request)?.agent ?? '?';
    this.finish(request, new VigilError('VIGIL_API_CONFLICT', `agent ${agent} did not answer the history request within ${this.idleTimeoutMs} ms (disconnected or busy); try again`, { details: { agent } }));
  }

  private finish(request: string, error: Error | null): void {
    const pending = this.pending.get(request);
    if (!pending) return;
    this.pending.delete(request);
    clearTimeout(pending.timer);
    if (error) pending.reject(error);
    else pending.resolve([...pending.series.values()]);
  }
}
