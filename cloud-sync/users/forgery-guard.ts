import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { forbidden } from '../server/api-error.js';
import type { SessionRecord } from '../storage/hub-storage.js';

/**
 * Protection against cross-site request forgery for requests the browser
 * authenticates by itself (the session cookie). SameSite=Strict already keeps
 * the cookie off cross-site requests in current browsers; these checks hold
 * when that does not (older browsers, a sibling site on the same domain).
 * Bearer-token requests carry no ambient credentials and are exempt.
 */

export const CSRF_HEADER = 'x-csrf-token';

/** GET and HEAD change nothing; everything else must prove it comes from the web app. */
export function isUnsafeMethod(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD';
}

/**
 * The origins the web app is served from: the address the browser used
 * (scheme of this hub, its Host header) and web.publicUrl (a TLS proxy in
 * front changes the scheme the browser sees).
 */
export function ownOrigins(host: string | undefined, secure: boolean, publicUrl: string | undefined): string[] {
  const origins: string[] = [];
  for (const candidate of [host ? `${secure ? 'https' : 'http'}://${host}` : undefined, publicUrl]) {
    const origin = candidate === undefined ? undefined : originOf(candidate);
    if (origin !== undefined) origins.push(origin);
  }
  return origins;
}

/** 403 when an `Origin` header is present and is not one of the hub's own (absent: same-origin GET-like navigations, old browsers). */
export function checkSameOrigin(headers: IncomingHttpHeaders, own: readonly string[]): void {
  const origin = headers.origin;
  if (origin === undefined) return;
  const normalized = originOf(origin);
  if (normalized === undefined || !own.includes(normalized)) {
    throw forbidden(`requests from ${origin} are refused: the web app is served from ${own.join(' or ') || 'the hub itself'}`);
  }
}

/** 403 unless `X-CSRF-Token` carries the session's token. */
export function checkCsrfToken(headers: IncomingHttpHeaders, session: SessionRecord): void {
  const sent = headers[CSRF_HEADER];
  if (typeof sent !== 'string' || sent === '') {
    throw forbidden('this request changes something and came with the session cookie but without the X-CSRF-Token header; the web app sends it (reload the page)');
  }
  const a = Buffer.from(sent);
  const b = Buffer.from(session.csrfToken);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw forbidden('the X-CSRF-Token header does not match the session; reload the page');
}

function originOf(url: string): string | undefined {
  try {
    const origin = new URL(url).origin;
    // Opaque origins ("null": sandboxed frames, file://) never match.
    return origin === 'null' ? undefined : origin.toLowerCase();
  } catch {
    return undefined;
  }
}
