import { describeError } from '../shared/errors.js';
import { VIGIL_VERSION } from '../shared/version.js';
import type { Logger } from '../shared/logger.js';
import { agentRoutes } from './api/agent-routes.js';
import { causeRoutes } from './api/cause-routes.js';
import { deploymentRoutes } from './api/deployment-routes.js';
import { digestRoutes } from './api/digest-routes.js';
import { episodeRoutes } from './api/episode-routes.js';
import { modelRoutes } from './api/model-routes.js';
import { sessionEndpoint } from './api/session-routes.js';
import { trainingRoutes } from './api/training-routes.js';
import { userRoutes } from './api/user-routes.js';
import { Authenticator } from './auth/authenticator.js';
import { DigestSchema, WebSchema, type HubConfig } from './config/hub-config-schema.js';
import { openHubStorage } from './config/open-hub-storage.js';
import { Deployer } from './deployments/deployer.js';
import { DigestScheduler } from './digest/digest-scheduler.js';
import { Fleet } from './fleet/fleet.js';
import { FleetHistory } from './fleet/fleet-history.js';
import { ConnectionRegistry } from './gateway/connection-registry.js';
import { HistoryRequests } from './gateway/history-requests.js';
import { SyncGateway } from './gateway/sync-gateway.js';
import { HubRegistry } from './registry/hub-registry.js';
import { loadHubSigningKey } from './registry/shared-signing-key.js';
import { signingKeyPaths } from './registry/signing-key.js';
import { createApiHandler } from './server/api-handler.js';
import { HubMetrics } from './server/hub-metrics.js';
import { listenHub } from './server/listen.js';
import type { HubStorage } from './storage/hub-storage.js';
import { LoginRateLimit } from './users/login-rate-limit.js';
import { defaultWebDir } from './web-serving/web-dir.js';

export interface StartHubOptions {
  /** Folder of the built web app served at /. Default <repo>/dist/web (npm run build:web). */
  webDir?: string;
}

export interface RunningHub {
  /** http(s)://host:port of the API; the agents' websocket is at <url>/sync (ws/wss). */
  url: string;
  port: number;
  storage: HubStorage;
  stop(): Promise<void>;
}

/**
 * Wires the hub:
 *
 *   storage (<dataDir>/store) ── signing key (<dataDir>/keys) ── registry (upload, sign)
 *        │                                                        │
 *   ConnectionRegistry ◄── Deployer (sends deploy, hears model_status)
 *        │                    ▲ hooks
 *   SyncGateway (upgrade auth → AgentConnection: hello, batch→ingest→ack, heartbeat)
 *        │  history_chunk / history_error ─> HistoryRequests ◄── POST /api/models/train
 *        │
 *   one HTTP(S) port: /api/… routes of every room (+ /api/session, the web login),
 *   /metrics, the web app's files at /, and `upgrade` → /sync
 *   DigestScheduler (when digest.webhookUrl is set): the waiting episodes to a webhook on schedule
 *
 * stop(): agents closed with GOING_AWAY, port closed, digest and deployer stopped, storage closed.
 */
export async function startHub(config: HubConfig, log: Logger, options: StartHubOptions = {}): Promise<RunningHub> {
  const web = config.web ?? WebSchema.parse(undefined);
  const digest = config.digest ?? DigestSchema.parse(undefined);
  const storage = await openHubStorage(config, { log });
  // Undone in reverse order; whatever started before a failure is stopped.
  const stops: Array<() => Promise<void> | void> = [() => storage.close()];
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      for (const step of [...stops].reverse()) await step();
    })());
  try {
    const key = await loadHubSigningKey(storage, config.hub.dataDir);
    const registry = new HubRegistry({ storage, privateKey: key.privateKey, log });
    const connections = new ConnectionRegistry();
    // The replicas sharing this storage (just this one on LMDB): presence, routing to agents connected elsewhere.
    const fleet = new Fleet({ storage, replica: config.hub.id, local: connections, log });
    await fleet.start();
    stops.push(() => fleet.stop());
    const deployer = new Deployer({ storage, channels: fleet.channels, log });
    const localHistory = new HistoryRequests(connections);
    const history = new FleetHistory({ fleet, local: localHistory, storage, log });
    history.start();
    const metrics = new HubMetrics(() => connections.connected().length);
    const auth = new Authenticator(storage, { sessionIdleMs: web.sessionIdleMinutes * 60_000 });
    const gateway = new SyncGateway({
      storage,
      auth,
      metrics,
      log,
      registry: connections,
      hooks: {
        onAgentReady: (agent) => {
          fleet.agentConnected(agent);
          return deployer.onAgentReady(agent);
        },
        onModelStatus: (agent, status) => deployer.onModelStatus(agent, status),
      },
      history: localHistory,
      onAgentGone: (agent) => fleet.agentDisconnected(agent),
      settings: { hubId: config.hub.id, heartbeatMs: config.sync.heartbeatMs, offlineAfterMs: config.sync.offlineAfterMs, maxQueuedBatches: config.sync.maxQueuedBatches },
    });
    await gateway.forgetStalePresence();

    const startedAt = Date.now();
    const handler = createApiHandler({
      routes: [
        ...agentRoutes({ storage, maxSkewMs: config.sync.maxSkewMs, offlineAfterMs: config.sync.offlineAfterMs, disconnect: (agent, code, reason) => fleet.disconnectEverywhere(agent, code, reason) }),
        ...episodeRoutes({ storage }),
        ...modelRoutes({ storage, registry }),
        ...trainingRoutes({ storage, registry, history, replica: config.hub.id, log }),
        ...deploymentRoutes({ storage, deployer }),
        ...userRoutes({ storage }),
        ...causeRoutes({ storage }),
        ...digestRoutes({ storage, maxEpisodes: digest.maxEpisodes }),
      ],
      auth,
      metrics,
      maxBodyBytes: config.http.maxBodyBytes,
      publicKeyPem: key.publicKeyPem,
      health: async () => {
        const storageError = await probeStorage(storage);
        return {
          status: storageError === null ? 'ok' : 'unavailable',
          hub: config.hub.id,
          version: VIGIL_VERSION,
          storage: storage.kind,
          ...(storageError === null ? {} : { error: `${storage.kind} storage: ${storageError}` }),
          agentsConnected: connections.connected().length,
          uptimeS: Math.round((Date.now() - startedAt) / 1000),
        };
      },
      session: sessionEndpoint({
        storage,
        auth,
        limiter: new LoginRateLimit(web.loginFailuresPerMinute),
        // Behind a TLS proxy the hub speaks HTTP but the browser HTTPS: publicUrl tells.
        secureCookie: config.http.tls !== undefined || web.publicUrl?.startsWith('https:') === true,
      }),
      webDir: options.webDir ?? defaultWebDir(),
      secure: config.http.tls !== undefined,
      publicUrl: web.publicUrl,
      log,
    });
    deployer.start();
    stops.push(() => deployer.stop());
    if (digest.webhookUrl !== undefined) {
      const scheduler = new DigestScheduler({ storage, config: { ...digest, webhookUrl: digest.webhookUrl }, hubId: config.hub.id, publicUrl: web.publicUrl, metrics, log });
      await scheduler.start();
      stops.push(() => scheduler.stop());
    }
    const server = await listenHub(config.http, handler);
    server.server.on('upgrade', gateway.handleUpgrade);
    stops.push(() => server.close());
    // Stopped first: agents are told to go before the port and the storage close.
    stops.push(() => gateway.stop());
    stops.push(() => {
      history.stop();
      localHistory.stop();
    });

    const publicKeyFile = signingKeyPaths(config.hub.dataDir).publicKey;
    if (key.created) log.info({ publicKeyFile }, 'created the package signing key pair; give agents the public key as hub.publicKeyFile');
    log.info({ url: server.url, sync: `${server.url.replace(/^http/, 'ws')}/sync`, hub: config.hub.id, storage: storage.kind, publicKeyFile }, 'hub running');
    return { url: server.url, port: server.port, storage, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** null when the storage answers a read within 2 s, else what went wrong (PostgreSQL down, a replica cut off). */
async function probeStorage(storage: HubStorage): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('no answer within 2 s'), 2000)));
  try {
    return await Promise.race([storage.getMeta('hub:health').then(() => null, (err: unknown) => describeError(err)), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
