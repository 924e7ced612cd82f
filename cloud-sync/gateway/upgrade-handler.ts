import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { describeError, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { SYNC_PATH } from '../../shared/sync-protocol.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { AgentRecord } from '../storage/hub-storage.js';
import type { HubMetrics } from '../server/hub-metrics.js';
import { AGENT_HEADER, bearerToken } from '../server/resolve-caller.js';

export interface UpgradeDeps {
  wss: WebSocketServer;
  auth: Authenticator;
  metrics: HubMetrics;
  log: Logger;
  onConnection: (ws: WebSocket, agent: AgentRecord) => void;
}

/**
 * The HTTP upgrade to the agent websocket. The agent is authenticated here,
 * from `Authorization: Bearer <token>` and `X-Vigil-Agent`, before any
 * websocket exists: a refused agent gets a plain 401 with a JSON error body
 * and its socket closed, and never costs the hub a connection.
 */
export function createUpgradeHandler(deps: UpgradeDeps): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    // A client that resets while its token is checked must not crash the hub.
    const destroy = () => socket.destroy();
    socket.on('error', destroy);
    upgrade(req, socket, head, deps, () => socket.off('error', destroy)).catch((err: unknown) => {
      deps.log.error({ err: describeError(err), code: 'VIGIL_HUB_STORAGE_FAILED' }, 'agent authentication failed for an internal reason');
      refuse(socket, 503, 'VIGIL_HUB_STORAGE_FAILED', 'the hub cannot check tokens right now; try again later');
    });
  };
}

async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, deps: UpgradeDeps, handOver: () => void): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://hub').pathname;
  if (path !== SYNC_PATH) {
    refuse(socket, 404, 'VIGIL_API_NOT_FOUND', `no websocket endpoint at ${path}; agents connect to ${SYNC_PATH}`);
    return;
  }
  const token = bearerToken(req.headers);
  const agentId = req.headers[AGENT_HEADER];
  if (!token || typeof agentId !== 'string' || agentId === '') {
    deny(socket, deps, 'missing', undefined, 'send "Authorization: Bearer <agent token>" and "X-Vigil-Agent: <agent id>"');
    return;
  }
  const result = await deps.auth.agent(agentId, token);
  if (!result.ok) {
    deny(socket, deps, 'refused', agentId, result.reason);
    return;
  }
  // From here on ws watches the socket.
  handOver();
  deps.wss.handleUpgrade(req, socket, head, (ws) => deps.onConnection(ws, result.agent));
}

function deny(socket: Duplex, deps: UpgradeDeps, reason: string, agent: string | undefined, message: string): void {
  deps.metrics.upgradesRefused.inc({ reason });
  deps.log.warn({ code: 'VIGIL_HUB_UNAUTHORIZED', agent, remote: (socket as { remoteAddress?: string }).remoteAddress, err: message }, 'agent refused at the websocket upgrade');
  refuse(socket, 401, 'VIGIL_HUB_UNAUTHORIZED', message);
}

const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 404: 'Not Found', 503: 'Service Unavailable' };

function refuse(socket: Duplex, status: number, code: ErrorCode, message: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ error: { code, message } });
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ''}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
      body,
  );
}
