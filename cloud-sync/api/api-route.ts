import type { IncomingHttpHeaders } from 'node:http';

/**
 * The hub's HTTP API is a list of routes; each room of the hub (agents,
 * episodes, models, deployments) contributes its own list and the server
 * (cloud-sync/server) matches, authenticates and dispatches. Errors are thrown
 * as VigilError (the API codes of shared/errors.ts) and sent as JSON
 * `{ "error": { "code": "VIGIL_…", "message": "…" } }` by the server.
 */

export type Role = 'viewer' | 'operator' | 'admin';

/** Who is calling: an API token (command line), a user (web app, later) or an agent (package download). */
export type Caller = { kind: 'token' | 'user'; id: string; name: string; role: Role } | { kind: 'agent'; id: string };

export interface ApiRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** `:name` segments of the route's path. */
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  caller: Caller;
  /** The raw body, bounded by the server (413 beyond its limit). */
  body(): Promise<Buffer>;
  /** The body parsed as JSON; VIGIL_API_BAD_REQUEST when it is not JSON. */
  json(): Promise<unknown>;
}

export interface ApiResponse {
  status: number;
  /** Sent as application/json. */
  json?: unknown;
  /** Sent as is (e.g. a package download). */
  body?: Buffer | Uint8Array | string;
  headers?: Record<string, string>;
}

export interface ApiRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** e.g. `/api/models/:name/versions/:version`. */
  path: string;
  /**
   * Least privilege needed: a role (viewer < operator < admin) for people and
   * tokens; `agent` also lets agents in with their own token.
   */
  access: Role | 'agent';
  handle(req: ApiRequest): Promise<ApiResponse>;
}
