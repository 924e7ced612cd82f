import WebSocket from 'ws';
import type { SecureContextOptions } from 'node:tls';
import {
  MAX_MESSAGE_BYTES,
  PROTOCOL_VERSIONS,
  parseHubMessage,
  type AgentHealth,
  type HubMessage,
  type SyncStream,
} from '../../shared/sync-protocol.js';

/**
 * A websocket client that speaks the sync protocol by hand, so tests can send
 * exactly what they want (valid, malformed, out of order) and see every reply.
 */
export interface RawSyncClient {
  ws: WebSocket;
  send(message: unknown): void;
  sendRaw(data: string | Buffer): void;
  /** The next hub message of this type (earlier ones of other types are kept). */
  next<T extends HubMessage['type']>(type: T, timeoutMs?: number): Promise<Extract<HubMessage, { type: T }>>;
  /** Every hub message so far. */
  received: HubMessage[];
  closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  ca?: SecureContextOptions['ca'];
}

export function connectSync(syncUrl: string, agent: string, token: string, options: ConnectOptions = {}): Promise<RawSyncClient> {
  const ws = new WebSocket(syncUrl, {
    headers: { authorization: `Bearer ${token}`, 'x-vigil-agent': agent },
    maxPayload: MAX_MESSAGE_BYTES,
    ...(options.ca ? { ca: options.ca } : {}),
  });
  const received: HubMessage[] = [];
  const taken = new Set<HubMessage>();
  const waiters: Array<() => void> = [];
  ws.on('message', (data: Buffer) => {
    const parsed = parseHubMessage(data);
    if (!parsed.ok) throw new Error(`the hub sent an invalid message: ${parsed.error}: ${data.toString()}`);
    received.push(parsed.message);
    for (const wake of waiters.splice(0)) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const client: RawSyncClient = {
    ws,
    received,
    closed,
    send: (message) => ws.send(JSON.stringify(message)),
    sendRaw: (data) => ws.send(data),
    next: async (type, timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = received.find((m) => m.type === type && !taken.has(m));
        if (found) {
          taken.add(found);
          return found as never;
        }
        if (ws.readyState === ws.CLOSED) throw new Error(`connection closed before a ${type} message arrived; got ${JSON.stringify(received)}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no ${type} message within ${timeoutMs} ms; got ${JSON.stringify(received)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 100));
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    close: async () => {
      if (ws.readyState !== ws.CLOSED) ws.close(1000);
      await closed;
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    // Kept after open too: a socket error must fail the test, not crash the worker.
    ws.on('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode}`)));
  });
}

/** Tries to open the sync websocket and returns the HTTP refusal (status and JSON body). */
export function refusedUpgrade(syncUrl: string, headers: Record<string, string>, options: ConnectOptions = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(syncUrl, { headers, ...(options.ca ? { ca: options.ca } : {}) });
    ws.once('open', () => {
      ws.close();
      reject(new Error('the upgrade was accepted'));
    });
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch (err) {
          reject(new Error(`the refusal body is not JSON: ${text} (${String(err)})`));
        }
      });
    });
    ws.once('error', (err) => reject(err));
  });
}

// ── Message builders ───────────────────────────────────────────────────────

export function hello(agent: string, epoch: string, overrides: Record<string, unknown> = {}) {
  return {
    type: 'hello',
    protocols: [...PROTOCOL_VERSIONS],
    agent,
    software: '0.1.0-test',
    epoch,
    acked: { scores: 0, episodes: 0, events: 0 },
    models: [{ name: 'pump-pca', active: '1.0.0', shadow: null, previous: null, state: 'scoring' }],
    sentAt: Date.now(),
    ...overrides,
  };
}

export function batch(stream: SyncStream, epoch: string, first: number, bodies: unknown[]) {
  return {
    type: 'batch',
    stream,
    epoch,
    first,
    last: first + bodies.length - 1,
    records: bodies.map((body, i) => ({ seq: first + i, at: Date.now(), body })),
  };
}

export function health(overrides: Partial<AgentHealth> = {}): AgentHealth {
  return {
    sourcesConnected: 2,
    sourcesTotal: 2,
    tagsLive: 11,
    tagsConfigured: 12,
    backlog: { scores: 40, episodes: 1, events: 0 },
    backlogBytes: 12_345,
    dropsTotal: 3,
    cpuPercent: 4.5,
    rssBytes: 120_000_000,
    uptimeS: 60,
    status: 'ok',
    reasons: [],
    ...overrides,
  };
}

export function heartbeat(sentAt: number, overrides: Partial<AgentHealth> = {}) {
  return { type: 'heartbeat', sentAt, health: health(overrides), models: [{ name: 'pump-pca', active: '1.0.0', shadow: null, previous: null, state: 'scoring' }] };
}
