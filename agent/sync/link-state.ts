import { SYNC_STREAMS, type SyncStream } from '../../shared/sync-protocol.js';

/** Plain counters, copied into prom-client at scrape time (vigil_sync_…). */
export interface SyncCounters {
  recordsSent: Record<SyncStream, number>;
  /** Records (seqs) the hub acknowledged as stored. */
  acked: Record<SyncStream, number>;
  /** Connections lost (or never made) and tried again. */
  reconnects: number;
  /** Malformed or out-of-order hub messages, acks beyond what is durable. */
  protocolErrors: number;
}

/** Records and bytes waiting in the outbox for the hub. */
export interface HubBacklog {
  scores: number;
  episodes: number;
  events: number;
  bytes: number;
}

export type HubLinkState = 'connecting' | 'connected' | 'waiting' | 'unauthorized' | 'stopped';

export interface HubLinkStatus {
  /** The hub URL of the current connection, or the one being (or last) tried. */
  url: string;
  /** Every configured hub URL, in the order they are tried. */
  urls: string[];
  /** Moves to another URL after a dropped connection or a failed attempt. */
  failovers: number;
  /** connecting (handshake or hello), connected (welcomed), waiting (to retry), unauthorized (401; waiting longer), stopped. */
  state: HubLinkState;
  connected: boolean;
  lastConnectedAt: number | null;
  /** Since when the hub has not been reachable (the agent's start when it never was); null while connected. */
  unreachableSince: number | null;
  lastError: string | null;
  /** Agent clock minus hub clock, ms, from the last heartbeat acknowledgement (or the welcome). */
  skewMs: number | null;
  counters: SyncCounters;
}

const perStream = (): Record<SyncStream, number> => Object.fromEntries(SYNC_STREAMS.map((s) => [s, 0])) as Record<SyncStream, number>;

/** What the link is doing, for /healthz, /metrics and the logs. */
export class LinkState {
  readonly counters: SyncCounters = { recordsSent: perStream(), acked: perStream(), reconnects: 0, protocolErrors: 0 };
  private state: HubLinkState = 'connecting';
  private lastConnectedAt: number | null = null;
  private unreachableSince: number | null;
  private lastError: string | null = null;
  private skewMs: number | null = null;
  private url: string;
  private failovers = 0;

  constructor(
    private readonly urls: readonly string[],
    private readonly now: () => number,
  ) {
    this.url = urls[0] ?? '';
    this.unreachableSince = now();
  }

  /** The link moves to another hub URL (a replica dropped or failed). */
  failedOver(): void {
    this.failovers++;
  }

  /** An attempt to `url` starts; it stays the shown URL until the next attempt. */
  connecting(url: string): void {
    this.state = 'connecting';
    this.url = url;
  }

  welcomed(skewMs: number): void {
    this.state = 'connected';
    this.lastConnectedAt = this.now();
    this.unreachableSince = null;
    this.lastError = null;
    this.skewMs = skewMs;
  }

  /** The connection ended (or never opened); `unauthorized` when the hub refused the token. */
  lost(error: string | null, unauthorized = false): void {
    if (this.state === 'stopped') return;
    this.state = unauthorized ? 'unauthorized' : 'waiting';
    this.unreachableSince ??= this.now();
    if (error) this.lastError = error;
    this.counters.reconnects++;
  }

  failed(error: string): void {
    this.lastError = error;
  }

  skew(ms: number): void {
    this.skewMs = ms;
  }

  stopped(): void {
    this.state = 'stopped';
  }

  snapshot(): HubLinkStatus {
    return {
      url: this.url,
      urls: [...this.urls],
      failovers: this.failovers,
      state: this.state,
      connected: this.state === 'connected',
      lastConnectedAt: this.lastConnectedAt,
      unreachableSince: this.unreachableSince,
      lastError: this.lastError,
      skewMs: this.skewMs,
      counters: { ...this.counters, recordsSent: { ...this.counters.recordsSent }, acked: { ...this.counters.acked } },
    };
  }
}
