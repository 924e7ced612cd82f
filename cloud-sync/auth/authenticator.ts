import type { ApiTokenRecord, AgentRecord, HubStorage, SessionRecord, UserRecord } from '../storage/hub-storage.js';
import { sessionIdHash } from '../users/web-session.js';
import { apiTokenId, verifyToken } from './tokens.js';

export type AgentAuthResult = { ok: true; agent: AgentRecord } | { ok: false; reason: string };
export type ApiTokenAuthResult = { ok: true; token: ApiTokenRecord } | { ok: false; reason: string };
export type SessionAuthResult = { ok: true; user: UserRecord; session: SessionRecord } | { ok: false; reason: string };

export interface AuthenticatorOptions {
  /** A web session unused for this long has ended. Default 720 minutes (web.sessionIdleMinutes). */
  sessionIdleMs?: number;
}

const DEFAULT_SESSION_IDLE_MS = 720 * 60_000;
/** lastSeenAt is written at most this often per session: one durable write a minute, not one per request. */
const TOUCH_EVERY_MS = 60_000;

/**
 * Checks agent tokens (websocket upgrade, package download), API tokens
 * (command line) and web sessions (cookie) against the stored records. The
 * record is read on every check, so a revoke, a new token, a disabled user or
 * a changed role is honoured at once, even when the command line changed it
 * from another process.
 */
export class Authenticator {
  readonly sessionIdleMs: number;

  constructor(
    private readonly storage: HubStorage,
    options: AuthenticatorOptions = {},
  ) {
    this.sessionIdleMs = options.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS;
  }

  async agent(id: string, token: string): Promise<AgentAuthResult> {
    const agent = await this.storage.getAgent(id);
    // One reason for unknown and wrong: the response must not tell which agent ids exist.
    if (!agent) return { ok: false, reason: 'unknown agent or wrong token' };
    if (agent.revokedAt !== null) return { ok: false, reason: `the token of agent ${id} was revoked; issue a new one with \`vigil hub agents token ${id}\`` };
    if (!(await verifyToken(token, agent.tokenHash, agent.tokenSalt))) return { ok: false, reason: 'unknown agent or wrong token' };
    return { ok: true, agent };
  }

  async apiToken(token: string): Promise<ApiTokenAuthResult> {
    const id = apiTokenId(token);
    if (id === undefined) return { ok: false, reason: 'not a Vigil API token (vgt_…)' };
    const record = await this.storage.getApiToken(id);
    if (!record || !(await verifyToken(token, record.tokenHash, record.tokenSalt))) return { ok: false, reason: 'unknown or wrong API token' };
    if (record.revokedAt !== null) return { ok: false, reason: `API token ${id} (${record.name}) was revoked` };
    return { ok: true, token: record };
  }

  /** The session a cookie names, if it is known, not idle too long, and its user still exists and is enabled. */
  async session(id: string, now = Date.now()): Promise<SessionAuthResult> {
    const idHash = sessionIdHash(id);
    const session = await this.storage.getSession(idHash);
    if (!session) return { ok: false, reason: 'not logged in (the session ended); log in again' };
    if (now - session.lastSeenAt > this.sessionIdleMs) {
      await this.storage.deleteSession(idHash);
      return { ok: false, reason: `the session expired after ${Math.round(this.sessionIdleMs / 60_000)} minutes without use; log in again` };
    }
    const user = await this.storage.getUser(session.user);
    if (!user || user.disabled) return { ok: false, reason: `the account ${session.user} was ${user ? 'disabled' : 'removed'}; ask an admin` };
    if (now - session.lastSeenAt >= Math.min(TOUCH_EVERY_MS, this.sessionIdleMs / 4)) await this.storage.touchSession(idHash, now);
    return { ok: true, user, session };
  }
}
