import type { IncomingMessage, ServerResponse } from 'node:http';
import { VigilError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { ApiRequest, ApiResponse, ApiRoute } from '../api/api-route.js';
import type { Authenticator } from '../auth/authenticator.js';
import { errorResponse } from './api-error.js';
import type { HubMetrics } from './hub-metrics.js';
import { parseJsonBody, readBody } from './read-body.js';
import { checkAccess, resolveCaller } from './resolve-caller.js';
import { RouteTable } from './route-table.js';

export interface ApiHandlerDeps {
  routes: readonly ApiRoute[];
  auth: Authenticator;
  metrics: HubMetrics;
  maxBodyBytes: number;
  /** PEM of the package signing key, served without authentication: agents configure it. */
  publicKeyPem: string;
  /** GET /api/health, no authentication. */
  health: () => Promise<unknown>;
  log: Logger;
}

/**
 * Request lifecycle:
 *   /metrics, /api/health, /api/signing-key  → answered here, no token
 *   /api/…  → match route (404/405) → resolve caller (401) → check role (403)
 *           → handler (reads the body lazily, 413 beyond maxBodyBytes) → JSON or bytes
 * Every error leaves as `{ "error": { "code", "message" } }`.
 */
export function createApiHandler(deps: ApiHandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const table = new RouteTable(deps.routes);
  return (req, res) => {
    handle(req, res, deps, table).catch((err: unknown) => {
      const { status, body } = errorResponse(err);
      if (status >= 500) deps.log.error({ err: err instanceof Error ? err.message : String(err), method: req.method, url: req.url }, 'API request failed');
      send(res, status, { json: body }, deps.metrics);
    });
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, deps: ApiHandlerDeps, table: RouteTable): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://hub');
  const method = req.method ?? 'GET';
  if (method === 'GET' && url.pathname === '/metrics') {
    const body = await deps.metrics.registry.metrics();
    send(res, 200, { body, headers: { 'content-type': deps.metrics.registry.contentType } }, deps.metrics);
    return;
  }
  if (method === 'GET' && url.pathname === '/api/health') {
    send(res, 200, { json: await deps.health() }, deps.metrics);
    return;
  }
  if (method === 'GET' && url.pathname === '/api/signing-key') {
    send(res, 200, { body: deps.publicKeyPem, headers: { 'content-type': 'text/plain; charset=utf-8' } }, deps.metrics);
    return;
  }
  const match = table.match(method, url.pathname);
  if (!match) throw new VigilError('VIGIL_API_NOT_FOUND', `no API endpoint ${method} ${url.pathname}`);
  const caller = await resolveCaller(req.headers, deps.auth);
  checkAccess(caller, match.route.access, `${match.route.method} ${match.route.path}`);

  let body: Promise<Buffer> | undefined;
  const readOnce = () => (body ??= readBody(req, deps.maxBodyBytes));
  const request: ApiRequest = {
    method,
    path: url.pathname,
    params: match.params,
    query: url.searchParams,
    headers: req.headers,
    caller,
    body: readOnce,
    json: async () => parseJsonBody(await readOnce()),
  };
  const response = await match.route.handle(request);
  send(res, response.status, response, deps.metrics);
}

function send(res: ServerResponse, status: number, response: Omit<ApiResponse, 'status'>, metrics: HubMetrics): void {
  metrics.apiRequests.inc({ status: String(status) });
  if (res.headersSent) {
    res.end();
    return;
  }
  const headers: Record<string, string> = { ...response.headers };
  let payload: string | Buffer | Uint8Array;
  if (response.json !== undefined) {
    payload = JSON.stringify(response.json);
    headers['content-type'] ??= 'application/json; charset=utf-8';
  } else {
    payload = response.body ?? '';
    headers['content-type'] ??= typeof payload === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream';
  }
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(payload)) });
  res.end(payload);
}
