import './node-opcua-logs.js';
import { join } from 'node:path';
import { DataType, VariantArrayType, type ClientSession, type DataValue, type OPCUAClient } from 'node-opcua';
import { VigilError, describeError } from '../../../shared/errors.js';
import type { Quality } from '../../../shared/sample.js';
import type { OpcuaSourceConfig, OpcuaTagConfig } from '../../config/schema.js';
import { backoffDelay } from '../backoff.js';
import { countInto, emptyCounters, type Source, type SourceContext, type SourceCounters, type SourceHealth } from '../source.js';
import { connectClient, disposeClient, type OpcuaConnection } from './connection.js';
import { parseNodeId, resolveNodeId, type ConfiguredNodeId } from './node-id.js';
import { certificateFailure, findRejectedCertificate, trustCommand } from './pki.js';
import { qualityOf } from './quality.js';
import { openSubscription, planSubscriptions, type OpenedSubscription, type ResolvedTag } from './subscriptions.js';
import { SubscriptionWatchdog } from './watchdog.js';

type Phase = 'idle' | 'connecting' | 'connected' | 'waiting' | 'stopped';

/**
 * Reads OPC UA tags through one session per endpoint.
 *
 *   start ─► connect ─► session ─► NamespaceArray ─► resolve nsu= ids ─► subscriptions ─► data
 *              ▲                                                                     │
 *              └── backoff ◄── gap recorded ◄── close / session lost / watchdog stale ┘
 *
 * Reconnection is ours, not node-opcua's: its client is created with
 * `maxRetry: 0`, and every loss disposes of the client and builds a new
 * session, re-reads the namespace array and recreates the subscriptions. That
 * way a restarted server that renumbered its namespaces, or that cannot
 * transfer subscriptions, never leaves us "connected" without data.
 */
export class OpcuaSource implements Source {
  readonly name: string;
  readonly type = 'opcua' as const;

  private readonly c: SourceCounters = emptyCounters();
  private readonly nodeIds: Array<ConfiguredNodeId | undefined>;
  /** Tags with an error currently shown on /tags; cleared by the next good numeric value. */
  private readonly tagErrored: Uint8Array;
  private readonly pkiDir: string;

  private phase: Phase = 'idle';
  private stateText = 'not started';
  private lastError: string | undefined;
  private since = Date.now();
  private attempt = 0;
  private everConnected = false;
  private generation = 0;
  private gapStartedAt: number | undefined;
  private connection: OpcuaConnection | undefined;
  private subscriptions: OpenedSubscription[] = [];
  private watchdog: SubscriptionWatchdog | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly config: OpcuaSourceConfig,
    private readonly tags: OpcuaTagConfig[],
    private readonly ctx: SourceContext,
  ) {
    this.name = config.name;
    this.pkiDir = config.pkiDir ?? join(ctx.dataDir, 'pki');
    this.tagErrored = new Uint8Array(tags.length);
    this.nodeIds = tags.map((tag, i) => {
      try {
        return parseNodeId(tag.nodeId);
      } catch (err) {
        this.reportTagError(i, describeError(err), 'monitor');
        return undefined;
      }
    });
  }

  async start(signal?: AbortSignal): Promise<void> {
    if (this.phase !== 'idle') return;
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    if (signal?.aborted) return this.stop();
    this.setPhase('connecting', 'connecting');
    // Not awaited: a server that is down must not hold up the other sources.
    this.running = this.connectOnce();
  }

  async stop(): Promise<void> {
    if (this.phase === 'stopped') return;
    this.generation += 1;
    this.setPhase('stopped', 'stopped');
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    // An attempt in flight notices the new generation and disposes of its own
    // client; wait for it briefly, but never for a whole connect timeout.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running?.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    await this.teardown(true);
  }

  health(): SourceHealth {
    const h: SourceHealth = {
      name: this.name,
      type: 'opcua',
      connected: this.phase === 'connected',
      state: this.stateText,
      since: this.since,
      tagsConfigured: this.tags.length,
    };
    if (this.lastError !== undefined) h.lastError = this.lastError;
    return h;
  }

  counters(): SourceCounters {
    return { ...this.c, dropped: { ...this.c.dropped }, errors: { ...this.c.errors } };
  }

  // ── connection lifecycle ────────────────────────────────────────────────

  private async connectOnce(): Promise<void> {
    const gen = ++this.generation;
    this.setPhase('connecting', this.attempt === 0 ? 'connecting' : `connecting (attempt ${this.attempt + 1})`);
    try {
      const conn = await connectClient(this.config, this.pkiDir, this.ctx.agentId);
      if (gen !== this.generation) return void (await disposeClient(conn, true));
      this.connection = conn;
      this.watchLoss(conn.client, conn.session, gen);
      await this.subscribeAll(conn.session, gen);
      if (gen !== this.generation) return;
      this.onConnected();
    } catch (err) {
      if (gen !== this.generation) return;
      this.onConnectFailed(err);
    }
  }

  private onConnected(): void {
    const reconnected = this.everConnected;
    this.everConnected = true;
    this.attempt = 0;
    this.lastError = undefined;
    if (reconnected) this.c.reconnects += 1;
    const gapMs = this.gapStartedAt === undefined ? undefined : Date.now() - this.gapStartedAt;
    this.gapStartedAt = undefined;
    const monitored = this.subscriptions.reduce((n, s) => n + s.monitored, 0);
    this.setPhase('connected', `connected (${monitored}/${this.tags.length} tags monitored)`);
    this.ctx.log.info(
      { endpoint: this.config.endpoint, subscriptions: this.subscriptions.length, monitored, reconnected, gapMs },
      reconnected ? `OPC UA source ${this.name} reconnected after a gap of ${gapMs ?? 0} ms` : `OPC UA source ${this.name} connected`,
    );
  }

  private onConnectFailed(err: unknown): void {
    countInto(this.c.errors, 'connect');
    const certStatus = certificateFailure(err);
    if (certStatus) {
      countInto(this.c.errors, 'certificate');
      const thumbprint = err instanceof VigilError ? (err.details.thumbprint as string | undefined) : undefined;
      const file = findRejectedCertificate(this.pkiDir, thumbprint);
      const where = file ?? join(this.pkiDir, 'rejected');
      this.lastError = `certificate of server not trusted: see ${where}`;
      const hint = file ? `to trust it: ${trustCommand(this.pkiDir, file)}` : `move its file from ${where} to ${join(this.pkiDir, 'trusted', 'certs')}`;
      this.ctx.log.error(
        { code: 'VIGIL_OPCUA_CERT_UNTRUSTED', endpoint: this.config.endpoint, status: certStatus, rejectedFile: file },
        `VIGIL_OPCUA_CERT_UNTRUSTED: the certificate of OPC UA server ${this.config.endpoint} is not trusted (${certStatus}); it was saved as ${where}; ${hint} — the agent retries by itself`,
      );
    } else {
      this.lastError = describeError(err);
      const code = err instanceof VigilError ? err.code : 'VIGIL_OPCUA_CONNECT_FAILED';
      this.ctx.log.warn(
        { code, endpoint: this.config.endpoint, attempt: this.attempt + 1, err: this.lastError },
        `${code}: OPC UA source ${this.name} could not connect to ${this.config.endpoint}: ${this.lastError}`,
      );
    }
    void this.teardown(false).then(() => this.scheduleRetry(certStatus ? 'certificate not trusted' : 'disconnected'));
  }

  /** Any sign that the session is gone: record the gap once, then rebuild. */
  private connectionLost(gen: number, kind: string, reason: string): void {
    if (gen !== this.generation || this.phase !== 'connected') return;
    this.generation += 1;
    countInto(this.c.errors, kind);
    this.c.gaps += 1;
    this.gapStartedAt = Date.now();
    this.lastError = reason;
    this.markGap(this.gapStartedAt);
    const code = kind === 'stale_subscription' ? 'VIGIL_OPCUA_STALE_SUBSCRIPTION' : 'VIGIL_OPCUA_CONNECT_FAILED';
    this.ctx.log.warn({ code, endpoint: this.config.endpoint, reason }, `${code}: OPC UA source ${this.name} lost its session (${reason}); data gap recorded, rebuilding the session`);
    this.setPhase('waiting', `reconnecting (${reason})`);
    void this.teardown(false).then(() => this.scheduleRetry('reconnecting'));
  }

  private scheduleRetry(what: string): void {
    if (this.phase === 'stopped') return;
    const delay = backoffDelay(this.attempt, this.config.reconnect.initialDelayMs, this.config.reconnect.maxDelayMs);
    this.attempt += 1;
    this.setPhase('waiting', `${what} (attempt ${this.attempt}, next in ${Math.ceil(delay / 1000)} s)`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.phase !== 'stopped') this.running = this.connectOnce();
    }, delay);
  }

  private async teardown(graceful: boolean): Promise<void> {
    this.watchdog?.stop();
    this.watchdog = undefined;
    this.subscriptions = [];
    const conn = this.connection;
    this.connection = undefined;
    if (conn) await disposeClient(conn, graceful);
  }

  private watchLoss(client: OPCUAClient, session: ClientSession, gen: number): void {
    client.on('connection_lost', () => this.connectionLost(gen, 'connection_lost', 'connection lost'));
    client.on('close', (err) => this.connectionLost(gen, 'connection_lost', err ? `connection closed: ${err.message}` : 'connection closed'));
    session.on('session_closed', (status) => this.connectionLost(gen, 'session_closed', `session closed by the server (${status.name})`));
    session.on('keepalive_failure', () => this.connectionLost(gen, 'connection_lost', 'session keep-alive failed'));
  }

  // ── subscriptions ───────────────────────────────────────────────────────

  private async subscribeAll(session: ClientSession, gen: number): Promise<void> {
    // Read at every session: a restarted server may have renumbered its namespaces.
    const namespaceArray = await session.readNamespaceArray();
    const resolved: ResolvedTag[] = [];
    this.nodeIds.forEach((id, index) => {
      if (!id) return;
      try {
        resolved.push({ index, tag: this.tags[index]!, nodeId: resolveNodeId(id, namespaceArray) });
      } catch (err) {
        this.reportTagError(index, describeError(err), 'monitor');
      }
    });

    const plans = planSubscriptions(resolved, this.config.publishingIntervalMs, this.config.maxItemsPerSubscription);
    const handlers = {
      onValue: (i: number, dv: DataValue) => this.onDataValue(i, dv),
      onAlive: (key: number) => this.watchdog?.alive(key),
      onItemFailed: (item: ResolvedTag, status: string) =>
        this.reportTagError(item.index, `VIGIL_OPCUA_NODE_INVALID: ${item.tag.nodeId} cannot be monitored (${status}); check the node id with vigil browse`, 'monitor'),
      onSubscriptionLost: (_key: number, reason: string) => this.connectionLost(gen, 'subscription_lost', reason),
    };
    const opened: OpenedSubscription[] = [];
    for (const [key, plan] of plans.entries()) {
      opened.push(await openSubscription(session, key, plan, { keepAliveCount: this.config.keepAliveCount }, handlers));
      if (gen !== this.generation) return;
    }
    this.subscriptions = opened;
    if (opened.length === 0) return;

    const longestQuiet = Math.max(...opened.map((s) => s.quietPeriodMs));
    const staleMs = this.config.staleTimeoutMs ?? 3 * longestQuiet;
    this.watchdog = new SubscriptionWatchdog(staleMs, (key, silentMs) => {
      this.connectionLost(gen, 'stale_subscription', `subscription ${key + 1} delivered neither data nor keep-alive for ${silentMs} ms (limit ${staleMs} ms)`);
    });
    for (const s of opened) this.watchdog.watch(s.key);
  }

  /** Hot path: keep it allocation-light (one Sample object per value). */
  private onDataValue(index: number, dv: DataValue): void {
    this.c.messages += 1;
    const raw: unknown = dv.value.value;
    const quality: Quality = qualityOf(dv.statusCode.value);
    let value: number;
    if (typeof raw === 'number') value = raw;
    else if (typeof raw === 'boolean') value = raw ? 1 : 0;
    else if ((dv.value.dataType === DataType.Int64 || dv.value.dataType === DataType.UInt64) && Array.isArray(raw) && dv.value.arrayType === VariantArrayType.Scalar) {
      value = (raw[0] as number) * 4294967296 + (raw[1] as number); // 64-bit integers arrive as [high, low]
    } else if ((raw === null || raw === undefined) && quality === 'bad') value = Number.NaN;
    else {
      countInto(this.c.dropped, 'not_a_number');
      if (!this.tagErrored[index]) {
        this.reportTagError(index, `value of type ${DataType[dv.value.dataType] ?? 'unknown'}${dv.value.arrayType === VariantArrayType.Scalar ? '' : ' (array)'} is not a number; only numeric and Boolean nodes can be tags`, undefined);
      }
      return;
    }
    if (this.tagErrored[index] && quality !== 'bad') {
      this.tagErrored[index] = 0;
      this.ctx.status.tagError(this.tags[index]!.name, undefined);
    }
    const ts = dv.sourceTimestamp?.getTime() ?? dv.serverTimestamp?.getTime() ?? Date.now();
    if (this.ctx.sink.push({ tag: this.tags[index]!.name, ts, value, quality })) this.c.samples += 1;
  }

  /** Writes one bad NaN sample per tag so windows downstream see the gap instead of a flat line. */
  private markGap(ts: number): void {
    for (let i = 0; i < this.tags.length; i++) {
      if (!this.nodeIds[i] || this.tagErrored[i]) continue;
      if (this.ctx.sink.push({ tag: this.tags[i]!.name, ts, value: Number.NaN, quality: 'bad' })) this.c.samples += 1;
    }
  }

  private reportTagError(index: number, message: string, errorKind: string | undefined): void {
    this.tagErrored[index] = 1;
    if (errorKind) countInto(this.c.errors, errorKind);
    this.ctx.status.tagError(this.tags[index]!.name, message);
    this.ctx.log.warn({ tag: this.tags[index]!.name, nodeId: this.tags[index]!.nodeId }, message);
  }

  private setPhase(phase: Phase, text: string): void {
    const wasConnected = this.phase === 'connected';
    this.phase = phase;
    this.stateText = text;
    if (wasConnected !== (phase === 'connected')) this.since = Date.now();
  }
}

