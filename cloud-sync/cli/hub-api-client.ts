import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { describeError } from '../../shared/errors.js';

/**
 * How the `vigil` command line talks to a hub's HTTP API: the hub URL and an
 * API token (`vigil hub tokens add`), from options or the environment. For a
 * hub whose TLS certificate comes from a private CA, Node reads extra CAs from
 * NODE_EXTRA_CA_CERTS.
 */
export interface HubConnectionOptions {
  hub?: string;
  tokenFile?: string;
  tokenEnv?: string;
}

export interface HubConnection {
  url: string;
  token: string;
}

export const DEFAULT_TOKEN_ENV = 'VIGIL_HUB_TOKEN';
export const HUB_URL_ENV = 'VIGIL_HUB_URL';

/** Adds --hub, --token-file and --token-env to a command. */
export function addHubConnectionOptions(command: Command): Command {
  return command
    .option('--hub <url>', `hub URL, e.g. https://hub.plant.local:8443 (default: $${HUB_URL_ENV})`)
    .option('--token-file <file>', 'file holding the API token')
    .option('--token-env <name>', `environment variable holding the API token (default ${DEFAULT_TOKEN_ENV})`);
}

/** A failed call: the API's error code and message, or why the hub could not be asked. */
export class HubCallError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'HubCallError';
  }
}

export async function resolveHubConnection(opts: HubConnectionOptions, env: NodeJS.ProcessEnv = process.env): Promise<HubConnection> {
  const url = opts.hub ?? env[HUB_URL_ENV];
  if (!url) throw new HubCallError('VIGIL_CONFIG_INVALID', `no hub URL: pass --hub <url> or set ${HUB_URL_ENV}`);
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`the scheme is ${parsed.protocol}`);
  } catch (err) {
    throw new HubCallError('VIGIL_CONFIG_INVALID', `the hub URL "${url}" is not an http(s) URL (${describeError(err)})`);
  }

  let token: string | undefined;
  if (opts.tokenFile !== undefined) {
    try {
      token = (await readFile(opts.tokenFile, 'utf8')).trim();
    } catch (err) {
      throw new HubCallError('VIGIL_SECRET_UNAVAILABLE', `the token file ${opts.tokenFile} cannot be read: ${describeError(err)}`);
    }
    if (!token) throw new HubCallError('VIGIL_SECRET_UNAVAILABLE', `the token file ${opts.tokenFile} is empty`);
  } else {
    const name = opts.tokenEnv ?? DEFAULT_TOKEN_ENV;
    token = env[name]?.trim();
    if (!token) throw new HubCallError('VIGIL_SECRET_UNAVAILABLE', `no API token: set ${name} or pass --token-file <file> (create a token with \`vigil hub tokens add <name> --role admin\`)`);
  }
  return { url: url.replace(/\/+$/, ''), token };
}

/**
 * One API call; resolves with the parsed JSON answer, rejects with
 * HubCallError carrying the API's API error code, or VIGIL_HUB_UNREACHABLE.
 */
export async function callHubApi(conn: HubConnection, method: 'GET' | 'POST', path: string, body?: { json: unknown } | { bytes: Uint8Array }): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json' };
  let payload: string | Uint8Array | undefined;
  if (body && 'json' in body) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body.json);
  } else if (body) {
    headers['content-type'] = 'application/octet-stream';
    payload = body.bytes;
  }
  const text = await (await hubRequest(conn, method, path, headers, payload)).text();
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A GET that answers bytes (a model package), with the same errors as callHubApi. */
export async function downloadFromHub(conn: HubConnection, path: string): Promise<Uint8Array> {
  const response = await hubRequest(conn, 'GET', path, { accept: 'application/octet-stream' });
  return new Uint8Array(await response.arrayBuffer());
}

/** Sends one request with the token; an unreachable hub or an error answer becomes a HubCallError with the API's code and message. */
async function hubRequest(conn: HubConnection, method: 'GET' | 'POST', path: string, headers: Record<string, string>, payload?: string | Uint8Array): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(`${conn.url}${path}`, { method, headers: { ...headers, authorization: `Bearer ${conn.token}` }, ...(payload !== undefined ? { body: payload } : {}) });
  } catch (err) {
    const cause = err instanceof Error && err.cause ? `: ${describeError(err.cause)}` : '';
    throw new HubCallError('VIGIL_HUB_UNREACHABLE', `cannot reach the hub at ${conn.url} (${describeError(err)}${cause})`);
  }
  if (response.ok) return response;
  const text = await response.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof error?.code === 'string' ? error.code : `HTTP_${response.status}`;
  const message = typeof error?.message === 'string' ? error.message : `${method} ${path} answered ${response.status} ${response.statusText}`;
  throw new HubCallError(code, message, response.status);
}

/** The line a failed command prints before exiting with 1. */
export function failureLine(err: unknown): string {
  return err instanceof HubCallError ? `✖ ${err.code}: ${err.message}` : `✖ ${describeError(err)}`;
}
