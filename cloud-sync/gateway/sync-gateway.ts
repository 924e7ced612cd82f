import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { CLOSE_CODES, MAX_MESSAGE_BYTES } from '../../shared/sync-protocol.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { AgentRecord, HubStorage } from '../storage/hub-storage.js';
import type { HubMetrics } from '../server/hub-metrics.js';
import type { DeploymentHooks } from './agent-channels.js';
import { AgentConnection, type ConnectionSettings } from './agent-connection.js';
import { ConnectionRegistry } from './connection-registry.js';
import type { HistoryListener } from './history-requests.js';
import { createUpgradeHandler } from './upgrade-handler.js';

export interface GatewayDeps {
  storage: HubStorage;
  auth: Authenticator;
  metrics: HubMetrics;
  log: Logger;
  settings: ConnectionSettings;
  /** The registry other rooms send through (the deployer is built with it before the gateway). */
  registry: ConnectionRegistry;
  hooks: DeploymentHooks;
  /** Receives agents' answers to history requests (see HistoryRequests). */
  history?: HistoryListener;
  /** An agent's current connection here ended (the other replicas are told). */
  onAgentGone?: (agent: string) => void;
}

/** The agent side of the hub: upgrade handler, one AgentConnection per agent, and their registry. */
export class SyncGateway {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  readonly handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

  constructor(private readonly deps: GatewayDeps) {
    this.handleUpgrade = createUpgradeHandler({ wss: this.wss, auth: deps.auth, metrics: deps.metrics, log: deps.log, onConnection: (ws, agent) => this.accept(ws, agent) });
  }

  /**
   * After a crash the store still shows this replica's agents as connected:
   * nobody is connected to a replica that is just starting.
   */
  async forgetStalePresence(): Promise<void> {
    for (const agent of await this.deps.storage.listAgents()) {
      if (agent.connectedTo === this.deps.settings.hubId) await this.deps.storage.updateAgentPresence(agent.id, { connectedTo: null });
    }
  }

  /** Closes an agent's live connection here (revoked, new token); true when it had one. */
  disconnect(agent: string, code: number, reason: string): boolean {
    return this.deps.registry.close(agent, code, reason);
  }

  /** Closes every agent connection with GOING_AWAY (they reconnect to another replica or later) and waits for them. */
  async stop(timeoutMs = 3000): Promise<void> {
    this.deps.registry.closeAll(CLOSE_CODES.GOING_AWAY, 'the hub is shutting down');
    const deadline = Date.now() + timeoutMs;
    while (this.deps.registry.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private accept(ws: WebSocket, agent: AgentRecord): void {
    const { registry } = this.deps;
    try {
      const connection = new AgentConnection(ws, agent.id, agent.tokenHash, {
        storage: this.deps.storage,
        hooks: this.deps.hooks,
        ...(this.deps.history ? { history: this.deps.history } : {}),
        metrics: this.deps.metrics,
        log: this.deps.log,
        settings: this.deps.settings,
        onClosed: (c) => {
          const current = registry.remove(c);
          if (current) this.deps.onAgentGone?.(c.agent);
          return current;
        },
        isConnected: (id) => registry.has(id),
      });
      registry.add(connection);
    } catch (err) {
      this.deps.log.error({ err: describeError(err), agent: agent.id }, 'could not set up the agent connection');
      ws.terminate();
    }
  }
}
