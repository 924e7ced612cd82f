import { VigilError } from '../../shared/errors.js';
import type { AgentRecord, HubStorage } from '../storage/hub-storage.js';
import { AGENT_TOKEN_PREFIX, hashToken, newToken } from './tokens.js';

/** The agent ids the agent's own configuration accepts (agent.id). */
export const AGENT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
const LABEL_KEY_PATTERN = /^[A-Za-z0-9_.-]{1,63}$/;

export interface IssuedAgentToken {
  agent: AgentRecord;
  /** Shown once; only its salted hash is stored. */
  token: string;
}

/** Creates an agent and its first token. VIGIL_API_BAD_REQUEST for a bad id or label, VIGIL_API_CONFLICT when it exists. */
export async function enrolAgent(storage: HubStorage, id: string, labels: Record<string, string>, now = Date.now()): Promise<IssuedAgentToken> {
  if (!AGENT_ID_PATTERN.test(id)) {
    throw new VigilError('VIGIL_API_BAD_REQUEST', `id: "${id}" is not an agent id; use lower-case letters, digits and dashes (at most 63, starting with a letter or digit), the same as agent.id in the agent's configuration`);
  }
  for (const [key, value] of Object.entries(labels)) {
    if (!LABEL_KEY_PATTERN.test(key)) throw new VigilError('VIGIL_API_BAD_REQUEST', `labels: "${key}" is not a label name; use letters, digits, _ . - (at most 63)`);
    if (typeof value !== 'string' || value.length > 256) throw new VigilError('VIGIL_API_BAD_REQUEST', `labels.${key}: expected a text of at most 256 characters`);
  }
  const token = newToken(AGENT_TOKEN_PREFIX);
  const { hash, salt } = await hashToken(token);
  await storage.createAgent({ id, labels, tokenHash: hash, tokenSalt: salt, createdAt: now });
  const agent = await storage.getAgent(id);
  if (!agent) throw new VigilError('VIGIL_HUB_STORAGE_FAILED', `agent ${id} was created but cannot be read back`);
  return { agent, token };
}

/** A new token for an existing agent (the old one stops working, a revoke is lifted). VIGIL_API_NOT_FOUND when there is no such agent. */
export async function renewAgentToken(storage: HubStorage, id: string): Promise<IssuedAgentToken> {
  const token = newToken(AGENT_TOKEN_PREFIX);
  const { hash, salt } = await hashToken(token);
  if (!(await storage.replaceAgentToken(id, hash, salt))) throw new VigilError('VIGIL_API_NOT_FOUND', `there is no agent ${id}`);
  const agent = await storage.getAgent(id);
  if (!agent) throw new VigilError('VIGIL_API_NOT_FOUND', `there is no agent ${id}`);
  return { agent, token };
}

/** Lines that go with a freshly printed agent token (command line and API users read the same advice). */
export function agentTokenAdvice(id: string): string {
  return `This token is shown once and is not stored on the hub (only a salted hash is). Put it on the gateway of ${id} in the file named by hub.tokenFile in its agent.yaml (e.g. /etc/vigil/hub.token, readable only by the vigil user).`;
}
