import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Tokens agents and people present to the hub. The hub keeps only
 * scrypt(token, salt): a copy of its store does not let anyone connect.
 * scrypt is slow on purpose (tens of ms); `VerifiedTokens` spares the cost
 * when the same token is presented again.
 */

export const AGENT_TOKEN_PREFIX = 'vga_';
export const API_TOKEN_PREFIX = 'vgt_';

const KEY_LENGTH = 32;

/** `<prefix>` + 32 random bytes, base64url. */
export function newToken(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

export interface TokenHash {
  /** scrypt(token, salt), hex. */
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

/** A fast, unsalted fingerprint for the in-memory cache only (never stored). */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function derive(token: string, salt: string): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(token, Buffer.from(salt, 'hex'), KEY_LENGTH, (err, key) => (err ? reject(err) : resolve(key))),
  );
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
