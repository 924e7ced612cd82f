import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { checkPackageSignature } from '../../../shared/package-signature.js';
import { MAX_MESSAGE_BYTES, PROTOCOL_VERSIONS, parseHubMessage, type Deploy } from '../../../shared/sync-protocol.js';
import { health } from '../../helpers/raw-sync-client.js';
import { windowResultRecord } from '../score-records.js';
import type { FleetAgent } from './fleet-messages.js';

/** Serialised record bodies the batches cycle through (building JSON per record would cost the sim more than the hub). */
const BODIES = Array.from({ length: 97 }, (_, i) => JSON.stringify(windowResultRecord(i)));

export interface SimAgentEvents {
  /** A batch of `records` was acked `latencyMs` after it was sent (drain) or due (steady). */
  acked(records: number, latencyMs: number): void;
  active(deployment: string): void;
  problem(what: string): void;
}

/**
 * One simulated agent on its own websocket, speaking the real protocol:
 * hello → welcome, heartbeats at the hub's interval, score batches with
 * gap-free seqs under a fresh epoch and at most `inFlight` unacked, and
 * deploy → download with its token → ed25519 check → model_status. Like the
 * real agent, when the hub closes the connection it reconnects (after 1–2 s)
 * and resends what the hub's welcome says it does not hold; such latencies
 * count from the first send.
 */
export class SimAgent {
  private ws: WebSocket | undefined;
  private readonly epoch = randomBytes(8).toString('hex');
  private nextSeq = 1;
  /** Unacked batches, oldest first: their seqs and the time latency counts from. */
  private readonly inFlight: Array<{ first: number; last: number; from: number }> = [];
  private ackedUpTo = 0;
  /** Welcomed on the current socket: batches wait for that. */
  private ready = false;
  /** Steady mode: due times of batches not yet sent. */
  private readonly due: number[] = [];
  /** Batches still to send in drain mode (Infinity: until told otherwise). */
  private drainLeft = 0;
  private activeVersion: string | null = null;
  private stopping = false;
  ackedRecords = 0;

  constructor(
    private readonly agent: FleetAgent,
    private readonly publicKeyPem: string,
    private readonly batchRecords: number,
    private readonly maxInFlight: number,
    private readonly events: SimAgentEvents,
  ) {}

  get id(): string {
    return this.agent.id;
  }

  /** Batches sent or due and not acked yet. */
  get outstanding(): number {
    return this.inFlight.length + this.due.length;
  }

  /** Welcomed on an open socket now. */
  get connected(): boolean {
    return this.ready && this.ws?.readyState === WebSocket.OPEN;
  }

  /** Resolves true once welcomed, false when the first connection failed (it keeps trying after that). */
  connect(): Promise<boolean> {
    return new Promise((resolve) => this.open(resolve));
  }

  /** `firstOutcome` hears of the first connection only: welcomed, or closed before that. */
  private open(firstOutcome?: (welcomed: boolean) => void): void {
    let outcome = firstOutcome;
    const ws = new WebSocket(`${this.agent.hubUrl.replace(/^http/, 'ws')}/sync`, { headers: this.headers(), maxPayload: MAX_MESSAGE_BYTES });
    this.ws = ws;
    this.ready = false;
    ws.on('open', () =>
      ws.send(JSON.stringify({ type: 'hello', protocols: [...PROTOCOL_VERSIONS], agent: this.agent.id, software: 'bench-hub-sim', epoch: this.epoch, acked: { scores: this.ackedUpTo, episodes: 0, events: 0 }, models: this.models(), sentAt: Date.now() })),
    );
    ws.on('message', (data: Buffer) => {
      const parsed = parseHubMessage(data);
      if (!parsed.ok) return this.events.problem(`unparsable hub message: ${parsed.error}`);
      const m = parsed.message;
      switch (m.type) {
        case 'welcome':
          this.ready = true;
          this.startHeartbeats(ws, m.heartbeatMs);
          this.resume(m.stored.scores);
          outcome?.(true);
          outcome = undefined;
          return;
        case 'ack':
          return this.onAck(m.upTo);
        case 'deploy':
          return void this.onDeploy(m).catch((err: Error) => this.events.problem(`deploy ${m.deployment}: ${err.message}`));
        case 'error':
          return this.events.problem(`hub error ${m.code}: ${m.message}`);
        default:
          return;
      }
    });
    ws.on('error', (err) => this.events.problem(`socket error: ${err.message}`));
    ws.on('close', (code, reason) => {
      if (this.stopping) return;
      this.events.problem(`closed by the hub (${code} ${reason.toString()})`);
      if (outcome) return outcome(false);
      setTimeout(() => this.open(), 1000 + Math.random() * 1000);
    });
  }

  /** After a (re)connect: what the hub holds is acked; the rest of what was in flight goes again. */
  private resume(stored: number): void {
    this.onAck(stored);
    for (const batch of this.inFlight) this.ws!.send(this.batchMessage(batch.first, batch.last, Date.now()));
    this.pump();
  }

  /** Drain mode: keep every in-flight slot busy for `batches` more batches (0 stops, Infinity until told). */
  drain(batches: number): void {
    this.drainLeft = batches;
    this.pump();
  }

  /** Steady mode: a batch falls due at `at` (performance.now() ms). */
  addDue(at: number): void {
    this.due.push(at);
    this.pump();
  }

  close(): void {
    this.stopping = true;
    this.ws?.terminate();
  }

  private pump(): void {
    const ws = this.ws;
    if (!ws || !this.ready || ws.readyState !== WebSocket.OPEN) return;
    while (this.inFlight.length < this.maxInFlight && (this.due.length > 0 || this.drainLeft > 0)) {
      const due = this.due.shift();
      if (due === undefined) this.drainLeft--;
      ws.send(this.nextBatch(due ?? performance.now()));
    }
  }

  private nextBatch(from: number): string {
    const first = this.nextSeq;
    const last = first + this.batchRecords - 1;
    this.nextSeq = last + 1;
    this.inFlight.push({ first, last, from });
    return this.batchMessage(first, last, Date.now());
  }

  private batchMessage(first: number, last: number, at: number): string {
    const parts: string[] = [];
    for (let seq = first; seq <= last; seq++) parts.push(`{"seq":${seq},"at":${at},"body":${BODIES[seq % BODIES.length]}}`);
    return `{"type":"batch","stream":"scores","epoch":"${this.epoch}","first":${first},"last":${last},"records":[${parts.join(',')}]}`;
  }

  private onAck(upTo: number): void {
    const now = performance.now();
    this.ackedUpTo = Math.max(this.ackedUpTo, upTo);
    while (this.inFlight.length > 0 && this.inFlight[0]!.last <= upTo) {
      const batch = this.inFlight.shift()!;
      this.ackedRecords += this.batchRecords;
      this.events.acked(this.batchRecords, now - batch.from);
    }
    this.pump();
  }

  private async onDeploy(d: Deploy): Promise<void> {
    this.status(d, 'downloading');
    const response = await fetch(this.agent.hubUrl + d.url, { headers: this.headers() });
    if (!response.ok) throw new Error(`package download answered ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const check = checkPackageSignature(bytes, d.sha256, d.signature, this.publicKeyPem);
    if (!check.ok) {
      this.status(d, 'refused', check.reason);
      throw new Error(`refused the package: ${check.reason}`);
    }
    if (d.mode === 'activate') this.activeVersion = d.version;
    this.status(d, d.mode === 'activate' ? 'active' : 'shadow');
    if (d.mode === 'activate') this.events.active(d.deployment);
  }

  private status(d: Deploy, status: 'downloading' | 'active' | 'shadow' | 'refused', reason?: string): void {
    this.ws?.send(JSON.stringify({ type: 'model_status', deployment: d.deployment, model: d.model, version: d.version, status, ...(reason ? { reason } : {}), at: Date.now() }));
  }

  private startHeartbeats(ws: WebSocket, everyMs: number): void {
    // Spread over the interval, as gateways started at different times would be.
    const first = setTimeout(() => {
      const timer = setInterval(() => {
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'heartbeat', sentAt: Date.now(), health: health(), models: this.models() }));
      }, everyMs);
      ws.once('close', () => clearInterval(timer));
    }, Math.random() * everyMs);
    ws.once('close', () => clearTimeout(first));
  }

  private headers(): Record<string, string> {
    return { authorization: `Bearer ${this.agent.token}`, 'x-vigil-agent': this.agent.id };
  }

  private models() {
    const active = this.activeVersion;
    return [{ name: 'bench-pca', active, shadow: null, previous: null, state: active ? ('scoring' as const) : ('no version' as const) }];
  }
}
