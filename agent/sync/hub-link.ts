import { readFileSync } from 'node:fs';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { CLOSE_CODES, PROTOCOL_VERSIONS, type AgentMessage, type Deploy, type HubMessage, type ModelStatus } from '../../shared/sync-protocol.js';
import { VIGIL_VERSION } from '../../shared/version.js';
import type { HubConfig } from '../config/schema.js';
import { readSecret } from '../config/secrets.js';
import type { AgentStore } from '../store/open-store.js';
import { HealthSampler, type HealthInputs } from './agent-health.js';
import { DurableWatch } from './durable-watch.js';
import { fetchPackage, type FetchedPackage } from './fetch-package.js';
import { hubAddress, packageUrl, type HubAddress } from './hub-address.js';
import { openHubConnection, type ConnectionEnd, type HubConnection } from './hub-connection.js';
import { HubDeployments, type DeployTarget } from './hub-deployments.js';
import { configuredHubUrls, HubUrlRotation } from './hub-urls.js';
import { Heartbeats } from './heartbeats.js';
import { answerHistoryRequest, type HistoryReader } from './history-answers.js';
import { LinkState, type HubBacklog, type HubLinkStatus } from './link-state.js';
import { modelVersions } from './model-versions.js';
import { OutboxDrain } from './outbox-drain.js';
import { reconnectDelay } from './reconnect-delay.js';
import { StatusQueue } from './status-queue.js';

export interface HubLinkOptions {
  agentId: string;
  /** The resolved `hub` section (absolute paths). */
  config: HubConfig;
  store: Pick<AgentStore, 'outbox' | 'epoch' | 'state'>;
  scoring: DeployTarget;
  /** What heartbeats report (the outbox part comes from `store`). */
  health: Omit<HealthInputs, 'outbox'>;
  log: Logger;
  /** The store's raw history ring, for the hub's history requests (training); without it they are answered with an error. */
  history?: HistoryReader;
  now?: () => number;
  /** No batch is sent while the websocket holds more than this, bytes. Default 8 MiB. */
  maxBufferedBytes?: number;
}

export interface HubLink {
  status(): HubLinkStatus;
  /** What waits in the outbox for the hub. */
  backlog(): HubBacklog;
  /** Closes the connection (1000), cancels downloads, waits for a deployment being applied. Safe to call twice. */
  stop(): Promise<void>;
}

const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/**
 * VIGIL_HUB_UNREACHABLE, and moves to another URL after a failed attempt, are
 * logged at most this often while the hub stays away (the count of the others
 * goes with it).
 */
const UNREACHABLE_LOG_INTERVAL_MS = 60_000;
const DOWNLOAD_TIMEOUT_MS = 120_000;

interface SessionEnd {
  end: ConnectionEnd;
  welcomed: boolean;
  protocolErrors: number;
}

/**
 * The agent's link to the hub: one websocket at a time, reconnected with
 * jittered exponential backoff for as long as the agent runs. With several
 * hub URLs (replicas), `HubUrlRotation` picks the next one: a failed attempt
 * moves on at once, only a round over all of them ends in the backoff.
 *
 *   connect <url>/sync (Bearer token, X-Vigil-Agent) ─┬─ HTTP 401 ─> VIGIL_HUB_UNAUTHORIZED, same URL, long backoff
 *                                                    ├─ error / close before welcome ─> next URL at once;
 *                                                    │    after a full round VIGIL_HUB_UNREACHABLE (rate-limited), backoff
 *                                                    └─ welcomed, later dropped ─> next URL after initialDelayMs
 *   open ──hello (epoch, acked, models)──> hub
 *   welcome ─> outbox acked up to `stored`, drain from there, heartbeats, statuses kept while offline
 *   batch ──> … <── ack            OutboxDrain: in seq order, bounded in flight, bufferedAmount bound
 *   heartbeat ──> … <── heartbeat_ack (skew)
 *   <── deploy ─> HubDeployments ──model_status──>
 *   <── history_request ─> answerHistoryRequest ──history_chunk… | history_error──>
 *   malformed or out-of-order hub message ─> VIGIL_SYNC_PROTOCOL, close 4000, reconnect
 *
 * Nothing here holds the agent back: results wait in the outbox while the hub is away.
 */
export function startHubLink(options: HubLinkOptions): HubLink {
  const { config, store, log } = options;
  const now = options.now ?? Date.now;
  const rotation = new HubUrlRotation(configuredHubUrls(config));
  // Refused here, at start, rather than attempt by attempt (the schema already refuses such URLs).
  for (const url of rotation.all()) hubAddress(url);
  const state = new LinkState(rotation.all(), now);
  /** The replica each deployment came from: its package is downloaded from there, with that hub's rule that only a path on it is accepted. */
  const deploySenders = new WeakMap<Deploy, HubAddress>();
  const drain = new OutboxDrain({
    outbox: store.outbox,
    epoch: store.epoch,
    batchRecords: config.batchRecords,
    inFlightBatches: config.inFlightBatches,
    maxBufferedBytes: options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
    counters: state.counters,
    log,
  });
  const durableWatch = new DurableWatch(store.outbox, () => drain.pump());
  const health = new HealthSampler({ ...options.health, outbox: store.outbox }, now);
  const statuses = new StatusQueue();

  let connection: HubConnection | null = null;
  let welcomed = false;
  let stopped = false;

  // Read at every attempt: a token or CA file installed or fixed later works without a restart.
  const token = () => readSecret({ file: config.tokenFile, env: config.tokenEnv }, 'hub agent token');
  const ca = () => (config.caFile ? readFileSync(config.caFile) : undefined);

  const report = (status: ModelStatus) => {
    const sent = welcomed && connection !== null && connection.send(status, (err) => err && statuses.add(status));
    if (!sent) statuses.add(status);
  };

  const download = async (deploy: Deploy, signal: AbortSignal): Promise<FetchedPackage> => {
    let url: string;
    let headers: Record<string, string>;
    let caBytes: Buffer | undefined;
    try {
      url = packageUrl(deploySenders.get(deploy) ?? hubAddress(rotation.current()), deploy.url);
      headers = { Authorization: `Bearer ${token()}`, 'X-Vigil-Agent': options.agentId };
      caBytes = ca();
    } catch (err) {
      return { ok: false, reason: describeError(err), retry: false };
    }
    return fetchPackage({ url, headers, ...(caBytes ? { ca: caBytes } : {}), expectedSize: deploy.size, timeoutMs: DOWNLOAD_TIMEOUT_MS, signal });
  };
  const deployments = new HubDeployments({
    scoring: options.scoring,
    state: store.state,
    log: log.child({ component: 'hub-deploy' }),
    publicKey: () => readFileSync(config.publicKeyFile, 'utf8'),
    download,
    report,
    now,
  });

  const helloMessage = (): AgentMessage => {
    const stats = store.outbox.stats();
    return {
      type: 'hello',
      protocols: [...PROTOCOL_VERSIONS],
      agent: options.agentId,
      software: VIGIL_VERSION,
      epoch: store.epoch,
      acked: { scores: stats.scores.acked, episodes: stats.episodes.acked, events: stats.events.acked },
      models: modelVersions(options.scoring.registry.snapshot()),
      sentAt: now(),
    };
  };

  const protocolError = (conn: HubConnection, what: string, code: number = CLOSE_CODES.PROTOCOL_ERROR) => {
    state.counters.protocolErrors++;
    state.failed(`protocol error: ${what}`);
    log.error({ code: 'VIGIL_SYNC_PROTOCOL', closeCode: code }, `sync protocol error: ${what}; closing the connection and reconnecting`);
    conn.close(code, what);
  };

  /** The protocol dispatcher: every hub message that parsed, in arrival order. */
  const dispatch = (conn: HubConnection, from: HubAddress, message: HubMessage, heartbeats: Heartbeats): void => {
    if (!welcomed && message.type !== 'welcome' && message.type !== 'error') return protocolError(conn, `${message.type} before welcome`);
    switch (message.type) {
      case 'welcome':
        if (welcomed) return protocolError(conn, 'a second welcome');
        if (!(PROTOCOL_VERSIONS as readonly number[]).includes(message.protocol)) {
          return protocolError(conn, `the hub chose protocol ${message.protocol}; this agent speaks ${PROTOCOL_VERSIONS.join(', ')}`, CLOSE_CODES.UNSUPPORTED_VERSION);
        }
        welcomed = true;
        rotation.welcomed();
        state.welcomed(Math.round(now() - message.hubTime));
        log.info({ hub: message.hub, url: rotation.current(), protocol: message.protocol, stored: message.stored }, 'connected to the hub');
        drain.attach({ send: (text, onWritten) => conn.send(text, onWritten), bufferedAmount: () => conn.bufferedAmount() }, message.stored);
        for (const status of statuses.take()) report(status);
        // The hub's heartbeat timeout is built on its own interval: never beat slower than that.
        heartbeats.start(Math.min(config.heartbeatMs, message.heartbeatMs));
        return;
      case 'ack': {
        const problem = drain.onAck(message);
        if (problem) protocolError(conn, problem);
        return;
      }
      case 'heartbeat_ack':
        state.skew(message.skewMs);
        return;
      case 'deploy':
        log.info({ deployment: message.deployment, model: `${message.model}@${message.version}`, mode: message.mode, rollback: message.rollback }, 'deployment from the hub');
        deploySenders.set(message, from);
        deployments.handle(message);
        return;
      case 'history_request':
        log.info({ request: message.request, tags: message.tags.length, from: message.from, to: message.to }, 'history requested by the hub');
        // Only on this connection: after a reconnect the hub has given up on the request anyway.
        void answerHistoryRequest(message, options.history, (reply) => connection === conn && welcomed && conn.send(reply)).catch((err: unknown) =>
          log.warn({ err: describeError(err), request: message.request }, 'answering a history request failed'),
        );
        return;
      case 'error':
        state.failed(`${message.code}: ${message.message}`);
        log.warn({ hubCode: message.code }, `the hub reported an error: ${message.message}`);
        return;
    }
  };

  /** One connection, from the attempt to its end. */
  const session = async (): Promise<SessionEnd> => {
    const errorsBefore = state.counters.protocolErrors;
    let conn: HubConnection | undefined;
    // Monotonic: a gateway clock step must not look like a silent hub.
    let lastHeard = performance.now();
    const heartbeats = new Heartbeats(config.heartbeatMs, {
      beat: () => {
        try {
          conn?.send({ type: 'heartbeat', sentAt: now(), health: health.sample(), models: modelVersions(options.scoring.registry.snapshot()) });
        } catch (err) {
          log.warn({ err: describeError(err) }, 'could not build the heartbeat');
        }
      },
      silentFor: () => performance.now() - lastHeard,
      gone: (silentMs) => {
        log.warn({ silentMs }, 'the hub sent nothing for too long; reconnecting');
        conn?.terminate(`the hub sent nothing for ${Math.round(silentMs / 1000)} s`);
      },
    });
    try {
      const address = hubAddress(rotation.current());
      const caBytes = ca();
      conn = openHubConnection({
        syncUrl: address.syncUrl,
        agentId: options.agentId,
        token: token(),
        ...(caBytes ? { ca: caBytes } : {}),
        onOpen: () => {
          lastHeard = performance.now();
          heartbeats.watch();
          conn?.send(helloMessage());
        },
        onMessage: (message) => {
          lastHeard = performance.now();
          try {
            dispatch(conn!, address, message, heartbeats);
          } catch (err) {
            // A local failure (say the store could not be read): start over rather than run on half-handled.
            log.error({ err: describeError(err), type: message.type }, 'handling a hub message failed; reconnecting');
            conn?.close(CLOSE_CODES.NORMAL, 'agent error');
          }
        },
        onMalformed: (error) => protocolError(conn!, `malformed message: ${error}`),
      });
    } catch (err) {
      // The token or CA file cannot be read: nothing to connect with yet.
      return { end: { kind: 'closed', code: null, message: describeError(err) }, welcomed: false, protocolErrors: 0 };
    }
    connection = conn;
    const end = await conn.ended;
    heartbeats.stop();
    drain.detach();
    connection = null;
    const wasWelcomed = welcomed;
    welcomed = false;
    return { end, welcomed: wasWelcomed, protocolErrors: state.counters.protocolErrors - errorsBefore };
  };

  let wake: (() => void) | null = null;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => wake?.(), ms);
      wake = () => {
        clearTimeout(timer);
        wake = null;
        resolve();
      };
    });

  const run = async () => {
    let failures = 0;
    let lastUnreachableLog = 0;
    let unlogged = 0;
    let lastMoveLog = 0;
    let movesUnlogged = 0;
    const movedTo = (url: string, afterDrop: boolean) => {
      state.failedOver();
      // A drop needs a welcome first, so those moves are few and each one matters; failed attempts repeat while replicas are away.
      if (!afterDrop && now() - lastMoveLog < UNREACHABLE_LOG_INTERVAL_MS) {
        movesUnlogged++;
        return;
      }
      if (!afterDrop) lastMoveLog = now();
      log.info({ hub: url, failovers: state.snapshot().failovers, notLogged: movesUnlogged }, `hub link moving to ${url}`);
      movesUnlogged = 0;
    };
    while (!stopped) {
      const tried = rotation.current();
      state.connecting(tried);
      const { end, welcomed: wasWelcomed, protocolErrors } = await session();
      if (stopped) break;
      const unauthorized = end.kind === 'unauthorized';
      state.lost(end.message, unauthorized);
      let delay: number;
      if (unauthorized) {
        // Every replica checks the same token: stay, and wait long.
        rotation.unauthorized();
        failures++;
        delay = reconnectDelay(failures, true, config.reconnect);
      } else if (wasWelcomed) {
        // Only a session that got a clean welcome starts the backoff over.
        failures = protocolErrors === 0 ? 1 : failures + 1;
        delay = reconnectDelay(failures, false, config.reconnect);
        const next = rotation.dropped();
        if (next.moved) movedTo(next.url, true);
      } else {
        const next = rotation.attemptFailed();
        if (next.moved) movedTo(next.url, false);
        if (next.roundOver) failures++;
        delay = next.roundOver ? reconnectDelay(failures, false, config.reconnect) : 0;
      }
      const hub = hubAddress(tried).syncUrl;
      if (unauthorized) {
        log.error({ code: 'VIGIL_HUB_UNAUTHORIZED', hub, retryInMs: delay }, `${end.message}; check hub.tokenFile / hub.tokenEnv (\`vigil hub agents add\` prints a token)`);
      } else if (now() - lastUnreachableLog >= UNREACHABLE_LOG_INTERVAL_MS) {
        lastUnreachableLog = now();
        const stats = store.outbox.stats();
        const backlog = { scores: stats.scores.pendingCount, episodes: stats.episodes.pendingCount, events: stats.events.pendingCount };
        log.warn({ code: 'VIGIL_HUB_UNREACHABLE', hub, reason: end.message, retryInMs: delay, backlog, notLogged: unlogged }, `hub unreachable (${end.message}); results wait in the outbox`);
        unlogged = 0;
      } else {
        unlogged++;
      }
      await sleep(delay);
    }
  };
  const running = run().catch((err: unknown) => log.error({ err: describeError(err) }, 'the hub link stopped unexpectedly'));

  let stopping: Promise<void> | undefined;
  return {
    status: () => state.snapshot(),
    backlog: () => {
      const stats = store.outbox.stats();
      return { scores: stats.scores.pendingCount, episodes: stats.episodes.pendingCount, events: stats.events.pendingCount, bytes: stats.scores.pendingBytes + stats.episodes.pendingBytes + stats.events.pendingBytes };
    },
    stop: () => {
      stopping ??= (async () => {
        stopped = true;
        state.stopped();
        durableWatch.stop();
        wake?.();
        const conn = connection;
        if (conn) {
          conn.close(CLOSE_CODES.NORMAL, 'agent stopping');
          // A hub that does not answer the closing handshake is cut off.
          const cut = setTimeout(() => conn.terminate('agent stopping'), 2000);
          await conn.ended;
          clearTimeout(cut);
        }
        await running;
        await deployments.stop();
      })();
      return stopping;
    },
  };
}
