import { tokenFingerprint, verifyToken } from './tokens.js';

/**
 * Remembers tokens that verified against a stored hash, so a thousand agents
 * reconnecting at once do not cost a thousand scrypt runs each time.
 *
 * The entry is keyed by the stored hash itself: callers always read the
 * current record first and pass its hash, so a revoked record (checked by the
 * caller) or a replaced token (a new hash) takes effect at once, without any
 * invalidation.
 */
export class VerifiedTokens {
  private readonly entries = new Map<string, { fingerprint: string; until: number }>();

  constructor(
    private readonly ttlMs = 10 * 60_000,
    private readonly maxEntries = 20_000,
    private readonly now: () => number = Date.now,
  ) {}

  async verify(token: string, hash: string, salt: string): Promise<boolean> {
    const fingerprint = tokenFingerprint(token);
    const cached = this.entries.get(hash);
    if (cached && cached.fingerprint === fingerprint && cached.until > this.now()) return true;
    if (!(await verifyToken(token, hash, salt))) return false;
    if (this.entries.size >= this.maxEntries) {
      // Maps iterate in insertion order: drop the oldest entry.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(hash, { fingerprint, until: this.now() + this.ttlMs });
    return true;
  }
}
