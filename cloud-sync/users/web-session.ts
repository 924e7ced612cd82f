import { createHash, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { HubStorage, SessionRecord } from '../storage/hub-storage.js';

/**
 * A web app login: 32 random bytes in an HttpOnly, SameSite=Strict cookie.
 * Storage keeps only the sha256 of the id (a high-entropy secret needs no slow
 * hash), so a copy of the store cannot be replayed as a cookie, and every
 * replica sharing the storage knows every session.
 */

export const SESSION_COOKIE = 'vigil_session';

export function sessionIdHash(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/** Creates and stores a session for `user`; the id goes to the cookie and nowhere else. */
export async function startSession(storage: HubStorage, user: string, now = Date.now()): Promise<{ id: string; session: SessionRecord }> {
  const id = randomBytes(32).toString('base64url');
  const session: SessionRecord = { idHash: sessionIdHash(id), user, csrfToken: randomBytes(32).toString('base64url'), createdAt: now, lastSeenAt: now };
  await storage.createSession(session);
  return { id, session };
}

/** The session id in the request's Cookie header, or undefined. */
export function sessionCookie(headers: IncomingHttpHeaders): string | undefined {
  for (const pair of (headers.cookie ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at < 0 || pair.slice(0, at).trim() !== SESSION_COOKIE) continue;
    const value = pair.slice(at + 1).trim();
    if (value !== '') return value;
  }
  return undefined;
}

/** No Max-Age: the cookie ends with the browser; the hub ends idle sessions itself. */
export function sessionSetCookie(id: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${secure ? '; Secure' : ''}`;
}
