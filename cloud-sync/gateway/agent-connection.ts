import type { WebSocket, RawData } from 'ws';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import {
  CLOSE_CODES,
  SYNC_STREAMS,
  batchSeqError,
  chooseProtocol,
  type AgentMessage,
  type Batch,
  type Heartbeat,
  type Hello,
  type HubMessage,
  type ParseResult,
  type SyncStream,
} from '../../shared/sync-protocol.js';
import type { AgentChannel, DeploymentHooks } from './agent-channels.js';
import type { HubStorage } from '../storage/hub-storage.js';
import type { HubMetrics } from '../server/hub-metrics.js';
import type { HistoryListener } from './history-requests.js';
import { readAgentMessage, type ReadAgentMessage } from './read-agent-message.js';
import { joinRecordsTexts } from './records-text.js';
import { SerialQueue } from './serial-queue.js';

export interface ConnectionSettings {
  hubId: string;
  heartbeatMs: number;
  offlineAfterMs: number;
  maxQueuedBatches: number;
}

export interface ConnectionDeps {
  storage: HubStorage;
  hooks: DeploymentHooks;
  /** Where history answers go (training); without it they are ignored. */
  history?: HistoryListener;
  metrics: HubMetrics;
  log: Logger;
  settings: ConnectionSettings;
  /** Called once the connection is closed; true when it was still the agent's current one. */
  onClosed: (connection: AgentConnection) => boolean;
  /** Whether the agent has a (newer) connection to this replica. */
  isConnected: (agent: string) => boolean;
  now?: () => number;
}

/** Messages queued for a slow agent beyond this are refused (send returns false), not buffered without bound. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** A peer that does not answer our close frame is cut off after this. */
const CLOSE_GRACE_MS = 5000;

type State = 'awaiting_hello' | 'ready' | 'closing';

/** A message as it arrived: parsed at once, handled in its turn. */
interface Received {
  parsed: ReadAgentMessage;
  receivedAt: number;
}

/**
 * One agent's websocket, authenticated in the upgrade handler. Messages are
 * handled strictly in order (SerialQueue); the protocol's flow in one switch:
 *
 *   hello      → choose protocol → stored cursors → presence → welcome → hooks.onAgentReady
 *   batch      → checks → storage.ingest (durable) → ack upTo last   | storage failure: close, no ack
 *   heartbeat  → skew, health, presence; revoked meanwhile? close     → heartbeat_ack
 *   model_status → hooks.onModelStatus
 *   history_chunk / history_error → history.onHistoryMessage (answers to a history_request)
 *   anything malformed or out of order → error message, close PROTOCOL_ERROR
 *
 * Throughput of a backlog: a message is parsed when it arrives, so parsing
 * the next batches overlaps the wait for the previous one to be durable; and
 * the batches of one stream that wait together are stored by ONE ingest (one
 * transaction, one sync to disk), then acked one by one, in order. One ingest
 * at a time: a batch is never stored while an earlier one may still fail —
 * the welcome's `stored` cursor would then skip the failed one, and the agent
 * would delete records the hub does not have.
 */
export class AgentConnection implements AgentChannel {
  private state: State = 'awaiting_hello';
  private epoch = '';
  private paused = false;
  private readonly queue: SerialQueue<Received>;
  private readonly liveness: NodeJS.Timeout;
  private readonly now: () => number;
  private readonly log: Logger;
  /** Wall clock when the socket was accepted: another replica's newer connection of this agent replaces it. */
  readonly openedAt: number;

  constructor(
    private readonly ws: WebSocket,
    readonly agent: string,
    /** The token hash the agent authenticated with: a new token closes this connection. */
    private readonly tokenHash: string,
    private readonly deps: ConnectionDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.openedAt = Date.now();
    this.log = deps.log.child({ agent });
    this.queue = new SerialQueue(
      (waiting) => this.handle(waiting),
      () => this.resume(),
      (err) => this.log.error({ err: describeError(err) }, 'sync message handler failed'),
    );
    this.liveness = setTimeout(() => this.close(CLOSE_CODES.TIMEOUT, `no message within ${deps.settings.offlineAfterMs} ms`), deps.settings.offlineAfterMs);
    ws.on('message', (data: RawData) => this.receive(data));
    ws.on('error', (err: Error & { code?: string }) => this.socketError(err));
    ws.once('close', (code: number, reason: Buffer) => void this.closed(code, reason.toString()));
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  send(message: HubMessage): boolean {
    if (this.ws.readyState !== this.ws.OPEN || this.ws.bufferedAmount > MAX_BUFFERED_BYTES) return false;
    try {
      this.ws.send(JSON.stringify(message));
      return true;
    } catch {
      return false;
    }
  }

  close(code: number, reason: string): void {
    if (this.state === 'closing') return;
    this.state = 'closing';
    this.log.info({ code, reason }, 'closing agent connection');
    // Close reasons are limited to 123 bytes by the websocket protocol.
    this.ws.close(code, Buffer.from(reason).subarray(0, 123).toString());
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  private receive(data: RawData): void {
    const receivedAt = this.now();
    this.liveness.refresh();
    if (this.state === 'closing') return;
    this.queue.push({ parsed: readAgentMessage(data as Buffer), receivedAt });
    if (!this.paused && this.queue.size > this.deps.settings.maxQueuedBatches) {
      // Backpressure: stop reading the socket; TCP pushes back on the agent.
      this.paused = true;
      this.ws.pause();
    }
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.ws.resume();
  }

  /** Handles the first waiting message (and the batches right behind a batch); returns how many it handled. */
  private async handle(waiting: readonly Received[]): Promise<number> {
    if (this.state === 'closing') return waiting.length;
    const { parsed, receivedAt } = waiting[0]!;
    if (!parsed.ok) {
      this.protocolError('malformed', parsed.error);
      return 1;
    }
    const message = parsed.message;
    if (message.type !== 'hello' && this.state !== 'ready') {
      this.protocolError('order', `${message.type} before hello`);
      return 1;
    }
    switch (message.type) {
      case 'hello':
        await this.hello(message);
        return 1;
      case 'batch':
        return this.batches(waiting);
      case 'heartbeat':
        await this.heartbeat(message, receivedAt);
        return 1;
      case 'model_status':
        await this.deps.hooks.onModelStatus(this.agent, message);
        return 1;
      case 'history_chunk':
      case 'history_error':
        this.deps.history?.onHistoryMessage(this.agent, message);
        return 1;
    }
  }

  private async hello(hello: Hello): Promise<void> {
    if (this.state === 'ready') return this.protocolError('order', 'a second hello on one connection');
    if (hello.agent !== this.agent) return this.protocolError('identity', `hello names agent ${hello.agent}, the token belongs to ${this.agent}`);
    const protocol = chooseProtocol(hello.protocols);
    if (protocol === null) {
      this.send({ type: 'error', code: 'VIGIL_SYNC_PROTOCOL', message: `no common protocol version: the agent speaks ${hello.protocols.join(', ')}; upgrade the older side` });
      this.deps.metrics.protocolErrors.inc({ reason: 'version' });
      return this.close(CLOSE_CODES.UNSUPPORTED_VERSION, 'no common protocol version');
    }
    const { storage, settings } = this.deps;
    try {
      const stored = Object.fromEntries(
        await Promise.all(SYNC_STREAMS.map(async (s) => [s, await storage.storedUpTo(this.agent, hello.epoch, s)] as const)),
      ) as Record<SyncStream, number>;
      await storage.updateAgentPresence(this.agent, {
        connectedTo: settings.hubId,
        software: hello.software,
        epoch: hello.epoch,
        models: hello.models,
        lastSeenAt: this.now(),
      });
      this.epoch = hello.epoch;
      this.state = 'ready';
      this.send({ type: 'welcome', protocol, hub: settings.hubId, stored, heartbeatMs: settings.heartbeatMs, hubTime: this.now() });
    } catch (err) {
      return this.storageFailed(err, 'hello');
    }
    this.log.info({ software: hello.software, epoch: hello.epoch, acked: hello.acked }, 'agent connected');
    // Not awaited: deployments are sent beside the batches, not before them.
    this.deps.hooks.onAgentReady(this.agent).catch((err: unknown) => this.log.error({ err: describeError(err) }, 'deployment hook failed'));
  }

  /**
   * Stores the first waiting batch together with the valid batches of the
   * same stream right behind it (at most maxQueuedBatches): one ingest, then
   * an ack for each. Returns how many batches that took.
   */
  private async batches(waiting: readonly Received[]): Promise<number> {
    const run: Array<{ batch: Batch; receivedAt: number; parsed: ReadAgentMessage }> = [];
    for (const { parsed, receivedAt } of waiting) {
      if (run.length >= this.deps.settings.maxQueuedBatches || !parsed.ok || parsed.message.type !== 'batch') break;
      const batch = parsed.message;
      const error = this.batchError(batch);
      if (error !== null) {
        if (run.length === 0) this.protocolError(error.reason, error.message);
        break;
      }
      if (run.length > 0 && batch.stream !== run[0]!.batch.stream) break;
      run.push({ batch, receivedAt, parsed });
    }
    if (run.length === 0) return 1;
    const { stream, epoch } = run[0]!.batch;
    const first = run[0]!.batch.first;
    const last = run[run.length - 1]!.batch.last;
    const records = run.length === 1 ? run[0]!.batch.records : run.flatMap((r) => r.batch.records);
    const { storage, metrics } = this.deps;
    // The records as received, for a backend that stores them as they are (only when every batch of the run has them).
    const texts = storage.storesRecordsAsReceived ? run.map((r) => r.parsed.recordsText) : [];
    const text = texts.length > 0 && texts.every((t): t is Buffer => t !== undefined) ? joinRecordsTexts(texts) : undefined;
    let result;
    try {
      result = await storage.ingest(this.agent, epoch, stream, records, run[0]!.receivedAt, text);
    } catch (err) {
      this.storageFailed(err, `batch ${stream} ${first}–${last}`);
      return run.length;
    }
    const done = this.now();
    for (const { receivedAt } of run) metrics.ingestSeconds.observe((done - receivedAt) / 1000);
    metrics.batches.inc({ stream }, run.length);
    metrics.recordsIngested.inc({ stream }, result.stored);
    if (result.duplicates > 0) metrics.duplicates.inc({ stream }, result.duplicates);
    // Only now are the batches durable: the acks (one per batch, in order) let the agent forget them.
    for (const { batch } of run) if (this.send({ type: 'ack', stream, epoch, upTo: batch.last })) metrics.acks.inc();
    return run.length;
  }

  /** What makes a batch a protocol error on this connection, or null. */
  private batchError(batch: Batch): { reason: string; message: string } | null {
    if (batch.epoch !== this.epoch) return { reason: 'epoch', message: `batch of epoch ${batch.epoch} on a connection that said hello with epoch ${this.epoch}` };
    const seqError = batchSeqError(batch);
    if (seqError) return { reason: 'sequence', message: `batch ${batch.stream} ${batch.first}–${batch.last}: ${seqError}` };
    return null;
  }

  private async heartbeat(heartbeat: Heartbeat, receivedAt: number): Promise<void> {
    const skewMs = Math.round(heartbeat.sentAt - receivedAt);
    const { storage } = this.deps;
    try {
      // A revoke or a new token from another process (the CLI) shows up here.
      const record = await storage.getAgent(this.agent);
      if (!record || record.revokedAt !== null || record.tokenHash !== this.tokenHash) {
        return this.close(CLOSE_CODES.REVOKED, 'the agent token was revoked or replaced');
      }
      await storage.updateAgentPresence(this.agent, { health: heartbeat.health, models: heartbeat.models, skewMs, lastSeenAt: receivedAt, connectedTo: this.deps.settings.hubId });
    } catch (err) {
      this.log.warn({ err: describeError(err), code: 'VIGIL_HUB_STORAGE_FAILED' }, 'could not save the heartbeat');
    }
    this.send({ type: 'heartbeat_ack', agentSentAt: heartbeat.sentAt, hubTime: this.now(), skewMs });
  }

  private protocolError(reason: string, message: string): void {
    this.deps.metrics.protocolErrors.inc({ reason });
    this.log.warn({ code: 'VIGIL_SYNC_PROTOCOL', reason, err: message }, 'protocol error; closing the connection');
    this.send({ type: 'error', code: 'VIGIL_SYNC_PROTOCOL', message });
    this.close(CLOSE_CODES.PROTOCOL_ERROR, message);
  }

  private storageFailed(err: unknown, what: string): void {
    this.deps.metrics.storageFailures.inc();
    this.log.error({ code: 'VIGIL_HUB_STORAGE_FAILED', err: describeError(err), what }, 'storage failed; not acknowledged, closing so the agent sends again');
    this.close(CLOSE_CODES.GOING_AWAY, 'hub storage failed; reconnect and send again');
  }

  private socketError(err: Error & { code?: string }): void {
    // ws closes the connection itself after these (1009 for an oversized frame).
    const reason = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'too_big' : 'frame';
    this.deps.metrics.protocolErrors.inc({ reason });
    this.log.warn({ code: 'VIGIL_SYNC_PROTOCOL', reason, err: err.message }, 'websocket error; the connection is closed');
  }

  private async closed(code: number, reason: string): Promise<void> {
    this.state = 'closing';
    clearTimeout(this.liveness);
    this.deps.metrics.disconnects.inc({ code: String(code) });
    this.log.info({ code, reason }, 'agent disconnected');
    if (!this.deps.onClosed(this)) return;
    try {
      // Another replica may have the agent by now: only clear our own claim.
      const record = await this.deps.storage.getAgent(this.agent);
      if (record?.connectedTo === this.deps.settings.hubId && !this.deps.isConnected(this.agent)) await this.deps.storage.updateAgentPresence(this.agent, { connectedTo: null });
    } catch (err) {
      this.log.warn({ err: describeError(err), code: 'VIGIL_HUB_STORAGE_FAILED' }, 'could not mark the agent offline');
    }
  }
}
