import type { ApiTokenRecord, AgentRecord, HubStorage } from '../storage/hub-storage.js';
import { apiTokenId } from './tokens.js';
import { VerifiedTokens } from './verified-tokens.js';

export type AgentAuthResult = { ok: true; agent: AgentRecord } | { ok: false; reason: string };
export type ApiTokenAuthResult = { ok: true; token: ApiTokenRecord } | { ok: false; reason: string };

/**
 * Checks agent tokens (websocket upgrade, package download) and API tokens
 * (command line) against the stored records. The record is read on every
 * check, so a revoke or a new token is honoured at once; only the scrypt work
 * is cached.
 */
export class Authenticator {
  private readonly verified = new VerifiedTokens();

  constructor(private readonly storage: HubStorage) {}

  async agent(id: string, token: string): Promise<AgentAuthResult> {
    const agent = await this.storage.getAgent(id);
    // One reason for unknown and wrong: the response must not tell which agent ids exist.
    if (!agent) return { ok: false, reason: 'unknown agent or wrong token' };
    if (agent.revokedAt !== null) return { ok: false, reason: `the token of agent ${id} was revoked; issue a new one with \`vigil hub agents token ${id}\`` };
    if (!(await this.verified.verify(token, agent.tokenHash, agent.tokenSalt))) return { ok: false, reason: 'unknown agent or wrong token' };
    return { ok: true, agent };
  }

  async apiToken(token: string): Promise<ApiTokenAuthResult> {
    const id = apiTokenId(token);
    if (id === undefined) return { ok: false, reason: 'not a Vigil API token (vgt_…)' };
    const record = await this.storage.getApiToken(id);
    if (!record || !(await this.verified.verify(token, record.tokenHash, record.tokenSalt))) return { ok: false, reason: 'unknown or wrong API token' };
    if (record.revokedAt !== null) return { ok: false, reason: `API token ${id} (${record.name}) was revoked` };
    return { ok: true, token: record };
  }
}
