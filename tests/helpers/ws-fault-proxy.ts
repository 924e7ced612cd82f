import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { MAX_MESSAGE_BYTES } from '../../shared/sync-protocol.js';

/** What to do with one websocket message passing the proxy. */
export type Verdict = 'pass' | 'drop' | 'duplicate' | { replace: string };
export type MessageRule = (message: Record<string, unknown>) => Verdict;

/**
 * A fault injector between a real agent and a real hub: HTTP requests are
 * forwarded as they are (package downloads can be tampered with), websocket
 * messages pass through rules that may drop, duplicate or rewrite them — the
 * "lost and duplicated acks" and "tampered package" rows of the fault matrix
 * without touching either side's code.
 */
export class WsFaultProxy {
  hubToAgent: MessageRule = () => 'pass';
  agentToHub: MessageRule = () => 'pass';
  /** Rewrites package downloads (`…/package`). */
  tamperPackage: ((bytes: Buffer) => Buffer) | null = null;
  readonly seen = { hubToAgent: new Map<string, number>(), agentToHub: new Map<string, number>(), dropped: 0, duplicated: 0 };
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES * 2 });
  private readonly pairs = new Set<{ agent: WebSocket; hub: WebSocket }>();
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, private target: URL) {}

  static async start(target: string): Promise<WsFaultProxy> {
    const server = createServer();
    const proxy = new WsFaultProxy(server, new URL(target));
    server.on('request', (req, res) => {
      const upstream = httpRequest(new URL(req.url ?? '/', proxy.target), { method: req.method, headers: { ...req.headers, host: proxy.target.host } }, (up) => {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          let body: Buffer = Buffer.concat(chunks);
          if (proxy.tamperPackage && req.url?.endsWith('/package') && up.statusCode === 200) body = proxy.tamperPackage(body);
          const headers = { ...up.headers, 'content-length': String(body.length) };
          res.writeHead(up.statusCode ?? 502, headers).end(body);
        });
      });
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    server.on('connection', (s: Socket) => {
      proxy.sockets.add(s);
      s.once('close', () => proxy.sockets.delete(s));
    });
    server.on('upgrade', (req, socket, head) => proxy.upgrade(req, socket as Socket, head));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Sends later connections to another address (a hub restarted on a new port). */
  retarget(target: string): void {
    this.target = new URL(target);
  }

  /** Drops every connection at once, as a network cut would. */
  cut(): void {
    for (const { agent, hub } of this.pairs) {
      agent.terminate();
      hub.terminate();
    }
    this.pairs.clear();
  }

  async stop(): Promise<void> {
    this.cut();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const headers: Record<string, string> = {};
    for (const name of ['authorization', 'x-vigil-agent']) if (typeof req.headers[name] === 'string') headers[name] = req.headers[name];
    const hub = new WebSocket(new URL(req.url ?? '/', this.target.href.replace(/^http/, 'ws')), { headers, maxPayload: MAX_MESSAGE_BYTES * 2 });
    hub.once('unexpected-response', (_r, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        socket.end(`HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body.toString()}`);
      });
    });
    hub.once('error', () => socket.destroy());
    hub.once('open', () => {
      this.wss.handleUpgrade(req, socket, head, (agent) => {
        const pair = { agent, hub };
        this.pairs.add(pair);
        this.relay(agent, hub, 'agentToHub');
        this.relay(hub, agent, 'hubToAgent');
        const closeBoth = (code: number) => {
          this.pairs.delete(pair);
          const safe = code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : 1000;
          for (const ws of [agent, hub]) if (ws.readyState === WebSocket.OPEN) ws.close(safe);
        };
        agent.on('close', closeBoth);
        hub.on('close', closeBoth);
      });
    });
  }

  private relay(from: WebSocket, to: WebSocket, direction: 'agentToHub' | 'hubToAgent'): void {
    const counts = this.seen[direction];
    from.on('message', (data: RawData) => {
      const text = data.toString();
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(text) as Record<string, unknown>;
      } catch {
        if (to.readyState === WebSocket.OPEN) to.send(text);
        return;
      }
      const type = String(message.type);
      counts.set(type, (counts.get(type) ?? 0) + 1);
      // Rules are read at each message so a test can change them mid-run.
      const verdict = this[direction](message);
      if (to.readyState !== WebSocket.OPEN) return;
      if (verdict === 'drop') this.seen.dropped++;
      else if (verdict === 'duplicate') {
        this.seen.duplicated++;
        to.send(text);
        to.send(text);
      } else if (verdict === 'pass') to.send(text);
      else to.send(verdict.replace);
    });
  }
}
