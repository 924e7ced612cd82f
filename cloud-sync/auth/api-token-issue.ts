import type { Role } from '../api/api-route.js';
import type { ApiTokenRecord, HubStorage } from '../storage/hub-storage.js';
import { hashToken, newApiToken } from './tokens.js';

export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

/** Creates an API token for the command line; the token is returned once and only its hash is stored. */
export async function issueApiToken(storage: HubStorage, name: string, role: Role, now = Date.now()): Promise<{ record: ApiTokenRecord; token: string }> {
  const { id, token } = newApiToken();
  const { hash, salt } = await hashToken(token);
  const record: ApiTokenRecord = { id, name, role, tokenHash: hash, tokenSalt: salt, createdAt: now, revokedAt: null };
  await storage.createApiToken(record);
  return { record, token };
}
