import { existsSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpcuaPlant, type OpcuaPlant } from '../../agent/demo/opcua-plant.js';
import { OpcuaSource } from '../../agent/sources/opcua/opcua-source.js';
import { opcuaSource, opcuaTag, recordingContext, tempDir, waitFor } from '../helpers/opcua-server.js';

const NSU = 'nsu=urn:vigil:demo:pumps';

describe('OPC UA source security: SignAndEncrypt, users and certificate trust', () => {
  let plant: OpcuaPlant;
  const dir = tempDir('vigil-opcua-sec-');
  // One agent PKI for the whole file: RSA key generation is the slow part.
  const pkiDir = join(dir.path, 'pki');
  const passwordFile = join(dir.path, 'op.password');
  const wrongPasswordFile = join(dir.path, 'wrong.password');

  beforeAll(async () => {
    writeFileSync(passwordFile, 's3cret-pw\n');
    writeFileSync(wrongPasswordFile, 'guess\n');
    plant = await startOpcuaPlant({
      port: 0,
      pumps: 1,
      updateIntervalMs: 100,
      securityModes: ['SignAndEncrypt'],
      users: [{ username: 'operator', password: 's3cret-pw' }],
      pkiDir: join(dir.path, 'server-pki'),
    });
  });
  afterAll(async () => {
    await plant?.stop();
    dir.remove();
  });

  const secureSource = (ctx: ReturnType<typeof recordingContext>, policy: 'Basic256Sha256' | 'Aes128_Sha256_RsaOaep' | 'Aes256_Sha256_RsaPss', file = passwordFile) =>
    new OpcuaSource(
      opcuaSource({
        endpoint: plant.endpoint,
        securityMode: 'SignAndEncrypt',
        securityPolicy: policy,
        user: { type: 'username', username: 'operator', passwordFile: file },
        pkiDir,
        publishingIntervalMs: 100,
        connectTimeoutMs: 3000,
        reconnect: { initialDelayMs: 200, maxDelayMs: 400 },
      }),
      [opcuaTag('counter', `${NSU};s=Diag.Counter`)],
      ctx,
    );

  it('refuses an unknown server certificate, names the rejected file, and connects once it is moved to trusted/', async () => {
    const ctx = recordingContext(dir.path);
    const source = secureSource(ctx, 'Basic256Sha256');
    await source.start();
    try {
      await waitFor(() => /certificate of server not trusted/.test(source.health().lastError ?? ''), 10_000, 'the certificate refusal');
      // The agent created its own certificate on first start.
      expect(existsSync(join(pkiDir, 'own', 'certs', 'client_certificate.pem'))).toBe(true);
      const rejected = readdirSync(join(pkiDir, 'rejected'));
      expect(rejected).toHaveLength(1);
      const rejectedFile = join(pkiDir, 'rejected', rejected[0]!);
      expect(source.health().lastError).toBe(`certificate of server not trusted: see ${rejectedFile}`);
      expect(source.health().connected).toBe(false);
      const line = ctx.logs.find((l) => l.code === 'VIGIL_OPCUA_CERT_UNTRUSTED');
      expect(line?.msg).toContain(`mv '${rejectedFile}' '${join(pkiDir, 'trusted', 'certs')}/'`);
      expect(ctx.samples).toHaveLength(0);

      // The operator follows the log line; the running source picks it up at its next retry.
      renameSync(rejectedFile, join(pkiDir, 'trusted', 'certs', basename(rejectedFile)));
      await waitFor(() => ctx.samples.length >= 3, 10_000, 'samples over SignAndEncrypt');
      expect(source.health().connected).toBe(true);
      expect(source.health().lastError).toBeUndefined();
      expect(source.counters().errors.certificate).toBeGreaterThanOrEqual(1);
      // The password never reaches a log line.
      expect(JSON.stringify(ctx.logs)).not.toContain('s3cret-pw');
    } finally {
      await source.stop();
    }
  });

  it.each(['Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'] as const)('reads data with SignAndEncrypt and %s', async (policy) => {
    const ctx = recordingContext(dir.path);
    const source = secureSource(ctx, policy);
    await source.start();
    try {
      await waitFor(() => ctx.samples.length >= 2, 10_000, `samples with ${policy}`);
      expect(ctx.samples.every((s) => s.quality === 'good')).toBe(true);
    } finally {
      await source.stop();
    }
  });

  it('reports a wrong password clearly and keeps retrying', async () => {
    const ctx = recordingContext(dir.path);
    const source = secureSource(ctx, 'Basic256Sha256', wrongPasswordFile);
    await source.start();
    try {
      await waitFor(() => (source.counters().errors.connect ?? 0) >= 2, 10_000, 'refused sessions');
      expect(source.health().lastError).toMatch(/VIGIL_OPCUA_CONNECT_FAILED: the server refused the session for user operator \(BadUserAccessDenied\); check the user name and the password/);
      expect(source.health().connected).toBe(false);
      expect(ctx.samples).toHaveLength(0);
      expect(JSON.stringify(ctx.logs)).not.toContain('guess');
    } finally {
      await source.stop();
    }
  });
});
