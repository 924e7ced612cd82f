import { ApiError } from './api-error.js';

/**
 * The one way pages talk to the hub. The session cookie travels by itself
 * (HttpOnly, same origin); the CSRF token lives only in memory, set from
 * `POST /api/session` and `GET /api/session`, and goes with every request that
 * changes something: the hub refuses cookie-authenticated unsafe requests
 * without it.
 */

let csrfToken: string | null = null;
let onUnauthorized: () => void = () => {};

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when the hub answers 401 (session expired or logged out elsewhere): the app shows the login page. */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RequestOptions {
  /** Do not treat 401 as "session gone" (the session probe and the login itself). */
  expect401?: boolean;
}

export async function request<T>(method: Method, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken !== null) headers['x-csrf-token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (err) {
    throw new ApiError(0, 'VIGIL_WEB_UNREACHABLE', `the hub did not answer (${err instanceof Error ? err.message : String(err)}); check the network and reload`);
  }
  const text = await response.text();
  const json = parseJson(text);
  if (!response.ok) {
    const error = errorOf(json);
    if (response.status === 401 && !options.expect401) onUnauthorized();
    throw new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? (text.trim().slice(0, 300) || response.statusText));
  }
  return json as T;
}

export const api = {
  get: <T>(path: string, options?: RequestOptions) => request<T>('GET', path, undefined, options),
  post: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('POST', path, body, options),
  put: <T>(path: string, body: unknown) => request<T>('PUT', path, body),
  delete: <T>(path: string) => request<T>('DELETE', path),
};

/** Builds `path?k=v&…`, leaving out empty values. */
export function withQuery(path: string, query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value));
  const qs = params.toString();
  return qs === '' ? path : `${path}?${qs}`;
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorOf(json: unknown): { code?: string; message?: string } | undefined {
  if (typeof json !== 'object' || json === null || !('error' in json)) return undefined;
  const error = (json as { error: unknown }).error;
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return { code: typeof code === 'string' ? code : undefined, message: typeof message === 'string' ? message : undefined };
}
