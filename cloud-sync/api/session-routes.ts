import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { VigilError } from '../../shared/errors.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { HubStorage } from '../storage/hub-storage.js';
import { checkCsrfToken, checkSameOrigin } from '../users/forgery-guard.js';
import type { LoginRateLimit } from '../users/login-rate-limit.js';
import { unknownUserHash, verifyPassword } from '../users/password-hash.js';
import { clearedSessionCookie, sessionCookie, sessionSetCookie, startSession } from '../users/web-session.js';
import { methodNotAllowed } from '../server/api-error.js';
import type { ApiResponse } from './api-route.js';
import { validateInput } from './validate-input.js';

/**
 * `/api/session`: the web app's login (POST), who is logged in (GET) and
 * logout (DELETE). It is the one endpoint a caller without credentials may
 * use, so the server dispatches it before the route table, with the client
 * address the login rate limit needs.
 */

export const SESSION_PATH = '/api/session';

export interface SessionRequest {
  method: string;
  headers: IncomingHttpHeaders;
  /** The client's IP address, a key of the login rate limit. */
  remoteAddress: string;
  /** Origins the web app is served from (see forgery-guard.ts). */
  ownOrigins: readonly string[];
  json(): Promise<unknown>;
}

export interface SessionEndpointDeps {
  storage: HubStorage;
  auth: Authenticator;
  limiter: LoginRateLimit;
  /** The cookie gets `Secure` (the browser sends it over HTTPS only). */
  secureCookie: boolean;
}

const LoginSchema = z.strictObject({
  username: z.string().min(1).max(200),
  password: z.string().min(1).max(1024),
});

/** Same words for an unknown user and a wrong password: the answer must not tell which names exist. */
const WRONG_CREDENTIALS = 'wrong user name or password';

export function sessionEndpoint(deps: SessionEndpointDeps): (req: SessionRequest) => Promise<ApiResponse> {
  const { storage, auth, limiter, secureCookie } = deps;

  const login = async (req: SessionRequest): Promise<ApiResponse> => {
    // A forged login (into the attacker's account) is refused like any other cross-site write.
    checkSameOrigin(req.headers, req.ownOrigins);
    const { username, password } = validateInput(LoginSchema, await req.json(), 'body');
    const keys = [`user:${username}`, `address:${req.remoteAddress}`];
    const now = Date.now();
    const waitMs = limiter.retryAfterMs(keys, now);
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      return {
        status: 429,
        headers: { 'retry-after': String(seconds) },
        json: { error: { code: 'VIGIL_API_BAD_REQUEST', message: `too many failed logins for this user or from this address; try again in ${seconds} s` } },
      };
    }
    const user = await storage.getUser(username);
    // Unknown names cost a password check too: timing must not tell which names exist.
    const matches = await verifyPassword(password, user?.passwordHash ?? (await unknownUserHash()));
    if (!user || !matches) {
      limiter.recordFailure(keys, now);
      throw new VigilError('VIGIL_API_UNAUTHORIZED', WRONG_CREDENTIALS);
    }
    if (user.disabled) throw new VigilError('VIGIL_API_UNAUTHORIZED', `the account ${user.name} is disabled; an admin can enable it`);
    limiter.clear(`user:${username}`);
    // Housekeeping at a moment that is rare and not latency-critical: sessions abandoned without logout.
    await storage.deleteIdleSessions(now - auth.sessionIdleMs);
    const { id, session } = await startSession(storage, user.name, now);
    return { status: 200, headers: { 'set-cookie': sessionSetCookie(id, secureCookie) }, json: { user: { name: user.name, role: user.role }, csrfToken: session.csrfToken } };
  };

  const current = async (req: SessionRequest): Promise<ApiResponse> => {
    const id = sessionCookie(req.headers);
    if (id === undefined) throw new VigilError('VIGIL_API_UNAUTHORIZED', 'not logged in');
    const result = await auth.session(id);
    if (!result.ok) throw new VigilError('VIGIL_API_UNAUTHORIZED', result.reason);
    return { status: 200, json: { user: { name: result.user.name, role: result.user.role }, csrfToken: result.session.csrfToken } };
  };

  const logout = async (req: SessionRequest): Promise<ApiResponse> => {
    const id = sessionCookie(req.headers);
    const result = id === undefined ? undefined : await auth.session(id);
    if (result?.ok) {
      // Otherwise any site could log people out.
      checkSameOrigin(req.headers, req.ownOrigins);
      checkCsrfToken(req.headers, result.session);
      await storage.deleteSession(result.session.idHash);
    }
    return { status: 200, headers: { 'set-cookie': clearedSessionCookie(secureCookie) }, json: { loggedOut: true } };
  };

  return (req) => {
    switch (req.method) {
      case 'POST':
        return login(req);
      case 'GET':
        return current(req);
      case 'DELETE':
        return logout(req);
      default:
        return Promise.reject(methodNotAllowed(`${req.method} is not supported on ${SESSION_PATH}`));
    }
  };
}
