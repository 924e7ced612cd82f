/**
 * Failed logins per key (a user name, a client address) within a sliding
 * window. Once a key has `maxFailures` failures in the window, further
 * attempts with it are refused until the oldest failure leaves the window —
 * even with the right password, or guessing could go on. Kept in memory: a
 * restart forgets it, and each replica counts on its own (N replicas allow N
 * times the rate), which still bounds guessing to a few per second.
 */
export class LoginRateLimit {
  /** key → failure times, oldest first, at most maxFailures kept. */
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs = 60_000,
    /** Keys remembered at most; beyond it, keys whose failures all left the window are dropped. */
    private readonly maxKeys = 10_000,
  ) {}

  /** Milliseconds until one of `keys` may try again; 0 when all may. */
  retryAfterMs(keys: readonly string[], now = Date.now()): number {
    let wait = 0;
    for (const key of keys) {
      const times = this.recent(key, now);
      if (times.length >= this.maxFailures) wait = Math.max(wait, (times[0] ?? now) + this.windowMs - now);
    }
    return wait;
  }

  recordFailure(keys: readonly string[], now = Date.now()): void {
    for (const key of keys) {
      const times = this.recent(key, now);
      times.push(now);
      if (times.length > this.maxFailures) times.shift();
      this.failures.set(key, times);
    }
    if (this.failures.size > this.maxKeys) this.forgetOld(now);
  }

  /** A successful login clears its user name (not its address: one success must not reset a guessing address). */
  clear(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((t) => t > now - this.windowMs);
  }

  private forgetOld(now: number): void {
    for (const [key, times] of this.failures) if (times.every((t) => t <= now - this.windowMs)) this.failures.delete(key);
    // Still too many (a flood of fresh keys within one window): drop the keys seen first.
    for (const key of this.failures.keys()) {
      if (this.failures.size <= this.maxKeys) break;
      this.failures.delete(key);
    }
  }
}
