import type { ApiTokenRecord, AgentRecord, HubStorage } from '../storage/hub-storage.js';
import { apiTokenId, verifyToken } from './tokens.js';

export type AgentAuthResult = { ok: true; agent: AgentRecord } | { ok: false; reason: string };
export type ApiTokenAuthResult = { ok: true; token: ApiTokenRecord } | { ok: false; reason: string };

/**
 * Checks agent tokens (websocket upgrade, package download) and API tokens
 * (command line) against the stored records. The record is read on every
 * check, so a revoke or a new token is honoured at once, even when the
 * command line changed it from another process.
 */
export class Authenticator {
  constructor(private readonly storage: HubStorage) {}

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
}
