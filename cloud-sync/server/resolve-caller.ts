import type { IncomingHttpHeaders } from 'node:http';
import { VigilError } from '../../shared/errors.js';
import type { Caller, Role } from '../api/api-route.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { SessionRecord } from '../storage/hub-storage.js';
import { sessionCookie } from '../users/web-session.js';
import { forbidden } from './api-error.js';

export const AGENT_HEADER = 'x-vigil-agent';

/** The bearer token of a request, or undefined. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  return match?.[1];
}

export interface ResolvedCaller {
  caller: Caller;
  /** Set when the session cookie (not a bearer token) authenticated the request: such requests get the CSRF checks. */
  session?: SessionRecord;
}

/**
 * Who is calling: an agent (its token plus `X-Vigil-Agent`), an API token, or
 * a web app user (the session cookie). A bearer token wins over a cookie: it
 * was sent on purpose, the cookie may be ambient. VIGIL_API_UNAUTHORIZED (401)
 * without valid credentials.
 */
export async function resolveCaller(headers: IncomingHttpHeaders, auth: Authenticator): Promise<ResolvedCaller> {
  const token = bearerToken(headers);
  if (!token) {
    const sessionId = sessionCookie(headers);
    if (sessionId === undefined) {
      throw new VigilError(
        'VIGIL_API_UNAUTHORIZED',
        'not logged in and no token: log in to the web app, or send "Authorization: Bearer <token>" (create an API token with `vigil hub tokens add <name> --role viewer|operator|admin`)',
      );
    }
    const result = await auth.session(sessionId);
    if (!result.ok) throw new VigilError('VIGIL_API_UNAUTHORIZED', result.reason);
    const { user, session } = result;
    return { caller: { kind: 'user', id: user.name, name: user.name, role: user.role }, session };
  }
  const agentId = headers[AGENT_HEADER];
  if (typeof agentId === 'string' && agentId !== '') {
    const result = await auth.agent(agentId, token);
    if (!result.ok) throw new VigilError('VIGIL_API_UNAUTHORIZED', result.reason);
    return { caller: { kind: 'agent', id: result.agent.id } };
  }
  const result = await auth.apiToken(token);
  if (!result.ok) throw new VigilError('VIGIL_API_UNAUTHORIZED', result.reason);
  return { caller: { kind: 'token', id: result.token.id, name: result.token.name, role: result.token.role } };
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Throws 403 unless the caller may use a route with this access. */
export function checkAccess(caller: Caller, access: Role | 'agent', what: string): void {
  if (caller.kind === 'agent') {
    if (access !== 'agent') throw forbidden(`agents may not call ${what}; use an API token`);
    return;
  }
  const needed: Role = access === 'agent' ? 'viewer' : access;
  if (RANK[caller.role] < RANK[needed]) throw forbidden(`${what} needs the ${needed} role; the ${caller.kind === 'user' ? 'user' : 'token'} "${caller.name}" is ${caller.role}`);
}
