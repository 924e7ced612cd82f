import type { IncomingMessage, ServerResponse } from 'node:http';
import { VigilError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { ApiRequest, ApiResponse, ApiRoute } from '../api/api-route.js';
import { SESSION_PATH, type SessionRequest } from '../api/session-routes.js';
import type { Authenticator } from '../auth/authenticator.js';
import { checkCsrfToken, checkSameOrigin, isUnsafeMethod, ownOrigins } from '../users/forgery-guard.js';
import { SECURITY_HEADERS } from '../web-serving/security-headers.js';
import { staticResponse } from '../web-serving/static-files.js';
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
  /** GET /api/health, no authentication; `status` other than 'ok' answers 503. */
  health: () => Promise<unknown>;
  /** POST|GET|DELETE /api/session (login, who, logout): the one endpoint open to callers without credentials. */
  session: (req: SessionRequest) => Promise<ApiResponse>;
  /** Folder of the built web app, served at / (see web-serving/static-files.ts). */
  webDir: string;
  /** The hub serves HTTPS: the browser's origin is https://<Host>. */
  secure: boolean;
  /** web.publicUrl: another origin the web app is served from (a TLS proxy in front). */
  publicUrl: string | undefined;
  log: Logger;
}

/**
 * Request lifecycle:
 *   /metrics, /api/health, /api/signing-key  → answered here, no credentials
 *   /api/session                             → login / who / logout (session-routes.ts)
 *   /api/…  → match route (404/405) → resolve caller: bearer token or session cookie (401)
 *           → cookie + unsafe method: same Origin and X-CSRF-Token (403) → check role (403)
 *           → handler (reads the body lazily, 413 beyond maxBodyBytes) → JSON or bytes
 *   GET|HEAD anything else                   → the web app's files (static-files.ts)
 * Every error leaves as `{ "error": { "code", "message" } }`; every response
 * carries the security headers.
 */
export function createApiHandler(deps: ApiHandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const table = new RouteTable(deps.routes);
  return (req, res) => {
    handle(req, res, deps, table).catch((err: unknown) => {
      const { status, body } = errorResponse(err);
      if (status >= 500) deps.log.error({ err: err instanceof Error ? err.message : String(err), method: req.method, url: req.url }, 'API request failed');
      send(req, res, status, { json: body }, deps.metrics);
    });
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, deps: ApiHandlerDeps, table: RouteTable): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://hub');
  const method = req.method ?? 'GET';
  if (method === 'GET' && url.pathname === '/metrics') {
    const body = await deps.metrics.registry.metrics();
    send(req, res, 200, { body, headers: { 'content-type': deps.metrics.registry.contentType } }, deps.metrics);
    return;
  }
  if (method === 'GET' && url.pathname === '/api/health') {
    const health = await deps.health();
    // 503 when this replica cannot reach its storage: a load balancer takes it out.
    const ok = (health as { status?: unknown } | null)?.status === 'ok';
    send(req, res, ok ? 200 : 503, { json: health }, deps.metrics);
    return;
  }
  if (method === 'GET' && url.pathname === '/api/signing-key') {
    send(req, res, 200, { body: deps.publicKeyPem, headers: { 'content-type': 'text/plain; charset=utf-8' } }, deps.metrics);
    return;
  }
  if ((method === 'GET' || method === 'HEAD') && !url.pathname.startsWith('/api/') && url.pathname !== '/metrics' && url.pathname !== '/sync') {
    const response = await staticResponse(deps.webDir, url.pathname, req.headers['if-none-match']);
    // Web app files are not API requests: not counted in vigil_hub_api_requests_total.
    send(req, res, response.status, response, undefined);
    return;
  }

  let body: Promise<Buffer> | undefined;
  const readOnce = () => (body ??= readBody(req, deps.maxBodyBytes));
  const json = async () => parseJsonBody(await readOnce());
  const origins = ownOrigins(req.headers.host, deps.secure, deps.publicUrl);

  if (url.pathname === SESSION_PATH) {
    const response = await deps.session({ method, headers: req.headers, remoteAddress: req.socket.remoteAddress ?? 'unknown', ownOrigins: origins, json });
    send(req, res, response.status, response, deps.metrics);
    return;
  }

  const match = table.match(method, url.pathname);
  if (!match) throw new VigilError('VIGIL_API_NOT_FOUND', `no API endpoint ${method} ${url.pathname}`);
  const { caller, session } = await resolveCaller(req.headers, deps.auth);
  if (session && isUnsafeMethod(method)) {
    checkSameOrigin(req.headers, origins);
    checkCsrfToken(req.headers, session);
  }
  checkAccess(caller, match.route.access, `${match.route.method} ${match.route.path}`);

  const request: ApiRequest = {
    method,
    path: url.pathname,
    params: match.params,
    query: url.searchParams,
    headers: req.headers,
    caller,
    body: readOnce,
    json,
  };
  const response = await match.route.handle(request);
  send(req, res, response.status, response, deps.metrics);
}

function send(req: IncomingMessage, res: ServerResponse, status: number, response: Omit<ApiResponse, 'status'>, metrics: HubMetrics | undefined): void {
  metrics?.apiRequests.inc({ status: String(status) });
  if (res.headersSent) {
    res.end();
    return;
  }
  // API answers are personal and change: never kept by the browser or a proxy unless a route says otherwise.
  const headers: Record<string, string> = { 'cache-control': 'no-store', ...response.headers, ...SECURITY_HEADERS };
  let payload: string | Buffer | Uint8Array;
  if (response.json !== undefined) {
    payload = JSON.stringify(response.json);
    headers['content-type'] ??= 'application/json; charset=utf-8';
  } else {
    payload = response.body ?? '';
    headers['content-type'] ??= typeof payload === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream';
  }
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(payload)) });
  res.end(req.method === 'HEAD' ? undefined : payload);
}
