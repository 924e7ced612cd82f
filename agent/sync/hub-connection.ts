import type { ClientRequest, IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { MAX_MESSAGE_BYTES, parseHubMessage, type AgentMessage, type HubMessage } from '../../shared/sync-protocol.js';

/** How one connection to the hub ended. */
export type ConnectionEnd =
  /** The hub answered the upgrade with 401: unknown agent, wrong or revoked token. */
  | { kind: 'unauthorized'; message: string }
  /** Anything else: no route to the hub, TLS, another HTTP status, a close by either side. */
  | { kind: 'closed'; code: number | null; message: string };

export interface HubConnectionOptions {
  syncUrl: string;
  agentId: string;
  token: string;
  /** Extra CA (PEM) for wss:// with a private CA. */
  ca?: Buffer;
  handshakeTimeoutMs?: number;
  onOpen: () => void;
  onMessage: (message: HubMessage) => void;
  onMalformed: (error: string) => void;
}

export interface HubConnection {
  /**
   * Sends a message, or its JSON text as a string or as UTF-8 bytes (always a
   * text frame); `onWritten` runs once it is handed to the socket. False when
   * not open.
   */
  send(message: AgentMessage | string | Buffer, onWritten?: (err?: Error) => void): boolean;
  /** Bytes queued in the websocket, not yet written to the socket. */
  bufferedAmount(): number;
  close(code: number, reason: string): void;
  /** Ends it at once, without the closing handshake (a hub that went silent). */
  terminate(reason: string): void;
  readonly ended: Promise<ConnectionEnd>;
}

/** A websocket close reason may hold at most 123 bytes. */
function closeReason(text: string): string {
  let out = text;
  while (Buffer.byteLength(out) > 120) out = out.slice(0, -1);
  return out;
}

/** The message of the hub's JSON error body (`{"error":{"code","message"}}`), else the text itself. */
function errorBodyMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    if (typeof parsed.error?.message === 'string') return parsed.error.message;
  } catch {
    // not JSON: show the start of the text
  }
  return body.trim().slice(0, 200);
}

/**
 * One websocket connection to the hub's /sync endpoint, authenticated in the
 * upgrade request (`Authorization: Bearer <token>`, `X-Vigil-Agent`). The hub
 * checks the token before any websocket exists, so a refused token shows up
 * as an HTTP 401 answer to the upgrade (`unexpected-response`), not as a
 * close code. Every incoming message is parsed with the protocol's schemas;
 * what does not parse goes to `onMalformed`, never further.
 */
export function openHubConnection(options: HubConnectionOptions): HubConnection {
  const ws = new WebSocket(options.syncUrl, {
    headers: { Authorization: `Bearer ${options.token}`, 'X-Vigil-Agent': options.agentId },
    maxPayload: MAX_MESSAGE_BYTES,
    handshakeTimeout: options.handshakeTimeoutMs ?? 15_000,
    // Batches are JSON of numbers; deflate would cost the gateway's CPU for a
    // link that is usually a plant LAN.
    perMessageDeflate: false,
    ...(options.ca ? { ca: options.ca } : {}),
  });
  let upgradeRefusal: ConnectionEnd | null = null;
  let lastError: string | null = null;
  let localClose: string | null = null;

  const ended = new Promise<ConnectionEnd>((resolve) => {
    ws.on('unexpected-response', (_req: ClientRequest, res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      const finish = () => {
        if (upgradeRefusal) return;
        clearTimeout(bodyTimer);
        const detail = errorBodyMessage(body);
        upgradeRefusal =
          status === 401
            ? { kind: 'unauthorized', message: `the hub refused the agent token (HTTP 401${detail ? `: ${detail}` : ''})` }
            : { kind: 'closed', code: null, message: `the hub answered the websocket upgrade with HTTP ${status}${detail ? `: ${detail}` : ''}` };
        // Aborts the upgrade request; 'close' follows.
        ws.terminate();
      };
      // The body only adds detail: do not wait on a server that never ends it.
      const bodyTimer = setTimeout(finish, 2000);
      res.once('end', finish);
      res.once('error', finish);
    });
    ws.on('error', (err: Error) => {
      lastError = (err as NodeJS.ErrnoException).code ? `${(err as NodeJS.ErrnoException).code}: ${err.message}` : err.message;
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (upgradeRefusal) return resolve(upgradeRefusal);
      const why = reason.toString('utf8');
      let message: string;
      if (localClose) message = `closed by the agent: ${localClose}`;
      else if (lastError) message = lastError;
      // 1006: no close frame — the connection failed or dropped.
      else if (code === 1006) message = 'the connection to the hub was lost';
      else message = `the hub closed the connection (${code}${why ? `: ${why}` : ''})`;
      resolve({ kind: 'closed', code, message });
    });
  });

  ws.on('open', () => options.onOpen());
  ws.on('message', (data: WebSocket.RawData) => {
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const parsed = parseHubMessage(bytes);
    if (parsed.ok) options.onMessage(parsed.message);
    else options.onMalformed(parsed.error);
  });

  return {
    send: (message, onWritten) => {
      if (ws.readyState !== WebSocket.OPEN) return false;
      const text = typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message);
      // Bytes go out as they are (no decode and re-encode of a 600 KB batch), in a text frame like the strings.
      ws.send(text, { binary: false }, (err) => onWritten?.(err ?? undefined));
      return true;
    },
    bufferedAmount: () => ws.bufferedAmount,
    close: (code, reason) => {
      localClose ??= `${code} ${reason}`;
      if (ws.readyState === WebSocket.OPEN) ws.close(code, closeReason(reason));
      else ws.terminate();
    },
    terminate: (reason) => {
      localClose ??= reason;
      ws.terminate();
    },
    ended,
  };
}
