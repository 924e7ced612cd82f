import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Tokens agents and the command line present to the hub. The hub keeps only
 * sha256(salt ‖ token): a copy of its store does not let anyone connect.
 *
 * Why not scrypt: slow hashes protect guessable secrets (passwords). These
 * tokens are 32 random bytes — 2^256 guesses whatever the hash costs — while
 * scrypt cost ~50 ms of CPU per check, so 1,000 gateways reconnecting after a
 * hub restart would have queued for half a minute. User passwords (web app)
 * use a slow hash.
 */

export const AGENT_TOKEN_PREFIX = 'vga_';
export const API_TOKEN_PREFIX = 'vgt_';

const KEY_LENGTH = 32;

/** `<prefix>` + 32 random bytes, base64url. */
export function newToken(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

export interface TokenHash {
  /** sha256(salt ‖ token), hex. */
  hash: string;
  /** 16 random bytes, hex. */
  salt: string;
}

export async function hashToken(token: string): Promise<TokenHash> {
  const salt = randomBytes(16).toString('hex');
  return { hash: (await derive(token, salt)).toString('hex'), salt };
}

export async function verifyToken(token: string, hash: string, salt: string): Promise<boolean> {
  const expected = Buffer.from(hash, 'hex');
  if (expected.length !== KEY_LENGTH) return false;
  return timingSafeEqual(await derive(token, salt), expected);
}

async function derive(token: string, salt: string): Promise<Buffer> {
  return createHash('sha256').update(Buffer.from(salt, 'hex')).update(token).digest();
}

/** An API token for the command line: `vgt_<id>.<secret>`; the id finds the record, the secret proves it. */
export function newApiToken(): { id: string; token: string } {
  const id = randomBytes(6).toString('hex');
  return { id, token: `${API_TOKEN_PREFIX}${id}.${randomBytes(32).toString('base64url')}` };
}

/** The record id inside an API token, or undefined when the text is not one. */
export function apiTokenId(token: string): string | undefined {
  const match = /^vgt_([0-9a-f]{12})\.[A-Za-z0-9_-]{43}$/.exec(token);
  return match?.[1];
}
