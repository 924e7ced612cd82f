import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { VigilError } from '../../shared/errors.js';
import type { HealthReport } from './health.js';
import type { TagState } from '../tags/tag-table.js';
import { renderTagsTable } from './tags-view.js';

export interface AgentHttpRoutes {
  health: () => HealthReport;
  tags: () => TagState[];
  metrics: Registry;
  /** GET /models: active, pending, shadow and previous versions per model. */
  models?: () => unknown;
  /** GET /episodes: open and recent episodes, readable at the plant without the hub. */
  episodes?: () => unknown;
}

export interface AgentHttpServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The agent's local HTTP endpoints: /healthz, /metrics, /tags. Read-only, no
 * authentication — it listens on 127.0.0.1 by default; expose it to the plant
 * network only behind a firewall rule.
 */
export async function startAgentHttp(host: string, port: number, routes: AgentHttpRoutes): Promise<AgentHttpServer> {
  const server = createServer((req, res) => {
    handle(req, res, routes).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    });
  });
  await listen(server, host, port);
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (cause: NodeJS.ErrnoException) => {
      const hint = cause.code === 'EADDRINUSE' ? `port ${port} is in use by another program; set http.port to a free port` : cause.message;
      reject(new VigilError('VIGIL_HTTP_LISTEN_FAILED', `cannot listen on ${host}:${port}: ${hint}`, { cause }));
    });
    server.listen(port, host, () => resolve());
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, routes: AgentHttpRoutes): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://agent');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('only GET is supported\n');
    return;
  }
  switch (url.pathname) {
    case '/healthz': {
      const report = routes.health();
      sendJson(res, report.status === 'ok' ? 200 : 503, report);
      return;
    }
    case '/metrics': {
      const body = await routes.metrics.metrics();
      res.writeHead(200, { 'content-type': routes.metrics.contentType }).end(body);
      return;
    }
    case '/tags': {
      const tags = routes.tags();
      const wantsText = url.searchParams.get('format') === 'text' || (req.headers.accept ?? '').startsWith('text/plain');
      if (wantsText) res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(renderTagsTable(tags));
      else sendJson(res, 200, { tags });
      return;
    }
    case '/episodes':
      sendJson(res, 200, routes.episodes ? routes.episodes() : { open: [], recent: [] });
      return;
    case '/models':
      sendJson(res, 200, routes.models ? routes.models() : { models: [] });
      return;
    case '/':
      sendJson(res, 200, { endpoints: ['/healthz', '/metrics', '/tags', '/tags?format=text', '/models', '/episodes'] });
      return;
    default:
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no such endpoint ${url.pathname}; try /healthz, /metrics, /tags, /models or /episodes\n`);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  // NaN (bad-quality samples) is not JSON; send null instead of failing.
  const text = JSON.stringify(body, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(text + '\n');
}
