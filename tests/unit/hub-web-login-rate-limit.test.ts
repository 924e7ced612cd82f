import { describe, expect, it } from 'vitest';
import { LoginRateLimit } from '../../cloud-sync/users/login-rate-limit.js';

const T0 = 1_700_000_000_000;

describe('the login rate limit', () => {
  it('blocks a key after maxFailures failures in the window until the oldest leaves it', () => {
    const limit = new LoginRateLimit(3, 60_000);
    const keys = ['user:anna', 'address:10.0.0.1'];
    limit.recordFailure(keys, T0);
    limit.recordFailure(keys, T0 + 10_000);
    expect(limit.retryAfterMs(keys, T0 + 10_000)).toBe(0);
    limit.recordFailure(keys, T0 + 20_000);
    expect(limit.retryAfterMs(keys, T0 + 20_000)).toBe(40_000);
    expect(limit.retryAfterMs(['user:anna', 'address:10.0.0.9'], T0 + 20_000)).toBe(40_000);
    expect(limit.retryAfterMs(['user:ben', 'address:10.0.0.9'], T0 + 20_000)).toBe(0);
    // The first failure leaves the window: two remain, below the limit.
    expect(limit.retryAfterMs(keys, T0 + 60_001)).toBe(0);
  });

  it('clears a user name after a successful login but not the address', () => {
    const limit = new LoginRateLimit(2, 60_000);
    const keys = ['user:anna', 'address:10.0.0.1'];
    limit.recordFailure(keys, T0);
    limit.recordFailure(keys, T0 + 1);
    limit.clear('user:anna');
    expect(limit.retryAfterMs(['user:anna'], T0 + 2)).toBe(0);
    expect(limit.retryAfterMs(['address:10.0.0.1'], T0 + 2)).toBeGreaterThan(0);
  });

  it('stays bounded under a flood of fresh keys, forgetting expired ones first', () => {
    const limit = new LoginRateLimit(2, 1000, 100);
    limit.recordFailure(['address:attacker'], T0);
    limit.recordFailure(['address:attacker'], T0 + 1);
    for (let i = 0; i < 500; i++) limit.recordFailure([`user:u${i}`], T0 + 2000 + i);
    const size = (limit as unknown as { failures: Map<string, number[]> }).failures.size;
    expect(size).toBeLessThanOrEqual(101);
    expect(limit.retryAfterMs(['user:u499'], T0 + 2499)).toBe(0);
  });
});
