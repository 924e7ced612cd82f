import { describe, expect, it } from 'vitest';
import { hashPassword, unknownUserHash, verifyPassword } from '../../cloud-sync/users/password-hash.js';

describe('password hashes', () => {
  it('stores scrypt N=16384 r=8 p=1 with a random salt, and verifies only the right password', async () => {
    const [a, b] = await Promise.all([hashPassword('correct horse battery'), hashPassword('correct horse battery')]);
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse battery', b)).toBe(true);
    expect(await verifyPassword('correct horse batterY', a)).toBe(false);
    expect(await verifyPassword('', a)).toBe(false);
  });

  it('verifies a hash made with other parameters (they are part of the hash)', async () => {
    const { scryptSync } = await import('node:crypto');
    const salt = Buffer.from('0123456789abcdef');
    const hash = scryptSync('old password 1', salt, 32, { N: 1024, r: 8, p: 1 });
    const stored = `scrypt$1024$8$1$${salt.toString('base64url')}$${hash.toString('base64url')}`;
    expect(await verifyPassword('old password 1', stored)).toBe(true);
    expect(await verifyPassword('old password 2', stored)).toBe(false);
  });

  it('treats malformed or hostile hashes as not matching instead of failing or running for minutes', async () => {
    for (const stored of ['', 'plain', 'scrypt$16384$8$1$$', 'bcrypt$1$2$3$c2FsdA$aGFzaA', 'scrypt$1000$8$1$c2FsdA$aGFzaA', 'scrypt$1073741824$8$1$c2FsdA$aGFzaA']) {
      expect(await verifyPassword('x', stored), stored).toBe(false);
    }
  });

  it('has a stand-in hash for unknown users that nothing matches', async () => {
    const stand = await unknownUserHash();
    expect(await unknownUserHash()).toBe(stand);
    expect(await verifyPassword('', stand)).toBe(false);
    expect(await verifyPassword('admin', stand)).toBe(false);
  });
});
