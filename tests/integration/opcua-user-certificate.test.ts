import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpcuaPlant, type OpcuaPlant } from '../../agent/demo/opcua-plant.js';
import type { OpcuaSourceConfig } from '../../agent/config/schema.js';
import { OpcuaSource } from '../../agent/sources/opcua/opcua-source.js';
import { opcuaSource, opcuaTag, recordingContext, tempDir, waitFor } from '../helpers/opcua-server.js';

const NSU = 'nsu=urn:vigil:demo:pumps';

/** A self-signed RSA user certificate (PEM) and its unencrypted PKCS#8 key, made with openssl. */
function makeUserCertificate(dir: string, name: string): { certificateFile: string; privateKeyFile: string } {
  const certificateFile = join(dir, `${name}.pem`);
  const privateKeyFile = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', `/CN=${name}`,
      '-keyout', privateKeyFile, '-out', certificateFile,
      '-addext', 'keyUsage=critical,digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment',
      '-addext', 'extendedKeyUsage=clientAuth',
      '-addext', `subjectAltName=URI:urn:vigil:user:${name}`,
    ],
    { stdio: 'pipe' },
  );
  return { certificateFile, privateKeyFile };
}

describe('OPC UA source with an X.509 user certificate', () => {
  let plant: OpcuaPlant;
  const dir = tempDir('vigil-opcua-usercert-');
  // One agent PKI and one server PKI for the whole file: RSA key generation is the slow part.
  const pkiDir = join(dir.path, 'pki');
  const serverPki = join(dir.path, 'server-pki');
  const trusted = makeUserCertificate(dir.path, 'operator');
  const stranger = makeUserCertificate(dir.path, 'stranger');
  const trustedDer = join(dir.path, 'operator.der');

  beforeAll(async () => {
    execFileSync('openssl', ['x509', '-in', trusted.certificateFile, '-outform', 'DER', '-out', trustedDer], { stdio: 'pipe' });
    plant = await startOpcuaPlant({
      port: 0,
      pumps: 1,
      updateIntervalMs: 100,
      securityModes: ['None', 'Sign', 'SignAndEncrypt'],
      allowAnonymous: false,
      trustedUserCertificates: [trusted.certificateFile],
      pkiDir: serverPki,
    });
    // The server-certificate trust workflow has its own test (opcua-security);
    // here the agent trusts the server up front.
    mkdirSync(join(pkiDir, 'trusted', 'certs'), { recursive: true });
    copyFileSync(join(serverPki, 'server', 'own', 'certs', 'certificate.pem'), join(pkiDir, 'trusted', 'certs', 'plant.pem'));
  });
  afterAll(async () => {
    await plant?.stop();
    dir.remove();
  });

  const certificateSource = (
    ctx: ReturnType<typeof recordingContext>,
    user: { certificateFile: string; privateKeyFile: string },
    security: Pick<OpcuaSourceConfig, 'securityMode' | 'securityPolicy'> = { securityMode: 'SignAndEncrypt', securityPolicy: 'Basic256Sha256' },
  ) =>
    new OpcuaSource(
      opcuaSource({
        endpoint: plant.endpoint,
        ...security,
        user: { type: 'certificate', ...user },
        pkiDir,
        publishingIntervalMs: 100,
        connectTimeoutMs: 3000,
        reconnect: { initialDelayMs: 200, maxDelayMs: 400 },
      }),
      [opcuaTag('counter', `${NSU};s=Diag.Counter`), opcuaTag('p1.temp', `${NSU};s=Pump1.Temperature`)],
      ctx,
    );

  it('connects with a trusted user certificate (PEM) and tags flow', async () => {
    const ctx = recordingContext(dir.path);
    const source = certificateSource(ctx, trusted);
    await source.start();
    try {
      await waitFor(() => ctx.samples.filter((s) => s.tag === 'counter').length >= 3, 10_000, 'samples with a certificate user');
      expect(source.health().connected).toBe(true);
      expect(source.health().lastError).toBeUndefined();
      expect(ctx.samples.some((s) => s.tag === 'p1.temp')).toBe(true);
      expect(ctx.samples.every((s) => s.quality === 'good')).toBe(true);
      expect(source.counters().errors.connect ?? 0).toBe(0);
      // The key never reaches a log line.
      expect(JSON.stringify(ctx.logs)).not.toContain('PRIVATE KEY');
    } finally {
      await source.stop();
    }
  });

  // Each policy signs the user token differently (RSA PKCS#1 v1.5 or PSS).
  it.each([
    ['None', 'None'],
    ['Sign', 'Aes128_Sha256_RsaOaep'],
    ['Sign', 'Aes256_Sha256_RsaPss'],
    ['SignAndEncrypt', 'Aes256_Sha256_RsaPss'],
  ] as const)('connects with a DER user certificate over %s / %s', async (securityMode, securityPolicy) => {
    const ctx = recordingContext(dir.path);
    const source = certificateSource(ctx, { certificateFile: trustedDer, privateKeyFile: trusted.privateKeyFile }, { securityMode, securityPolicy });
    await source.start();
    try {
      await waitFor(() => ctx.samples.length >= 2, 10_000, `samples over ${securityMode} ${securityPolicy}`);
      expect(source.health().connected).toBe(true);
    } finally {
      await source.stop();
    }
  });

  it('reports a user certificate the server does not trust, says what to do, and keeps retrying', async () => {
    const ctx = recordingContext(dir.path);
    const source = certificateSource(ctx, stranger);
    await source.start();
    try {
      await waitFor(() => (source.counters().errors.connect ?? 0) >= 2, 10_000, 'refused sessions');
      const lastError = source.health().lastError ?? '';
      expect(lastError).toContain('VIGIL_OPCUA_CONNECT_FAILED: the server refused the user certificate');
      expect(lastError).toContain(stranger.certificateFile);
      expect(lastError).toContain(`(BadIdentityTokenRejected, SHA-1 thumbprint ${new X509Certificate(readFileSync(stranger.certificateFile)).fingerprint.replaceAll(':', '').toLowerCase()})`);
      expect(lastError).toMatch(/trusted user certificates/);
      // Not mistaken for the agent's own trust problem with the server certificate.
      expect(lastError).not.toMatch(/password|certificate of server not trusted/);
      expect(source.counters().errors.certificate ?? 0).toBe(0);
      expect(source.health().connected).toBe(false);
      expect(ctx.samples).toHaveLength(0);
      // The server kept the refused certificate where its administrator can trust it.
      expect(readdirSync(join(serverPki, 'users', 'rejected')).some((f) => f.startsWith('stranger'))).toBe(true);
    } finally {
      await source.stop();
    }
  });

  it('reports a missing private key file clearly', async () => {
    const ctx = recordingContext(dir.path);
    const missingKey = join(dir.path, 'nowhere', 'operator.key');
    const source = certificateSource(ctx, { certificateFile: trusted.certificateFile, privateKeyFile: missingKey });
    await source.start();
    try {
      await waitFor(() => source.health().lastError !== undefined, 10_000, 'the key error');
      expect(source.health().lastError).toBe(`VIGIL_SECRET_UNAVAILABLE: cannot read the user private key ${missingKey}: ENOENT (file not found); check privateKeyFile`);
      expect(ctx.logs.some((l) => l.code === 'VIGIL_SECRET_UNAVAILABLE')).toBe(true);
      expect(ctx.samples).toHaveLength(0);
    } finally {
      await source.stop();
    }
  });

  it('reports a private key that does not belong to the certificate before contacting the server', async () => {
    const ctx = recordingContext(dir.path);
    const source = certificateSource(ctx, { certificateFile: trusted.certificateFile, privateKeyFile: stranger.privateKeyFile });
    await source.start();
    try {
      await waitFor(() => source.health().lastError !== undefined, 10_000, 'the key mismatch error');
      expect(source.health().lastError).toBe(
        `VIGIL_SECRET_UNAVAILABLE: the user private key ${stranger.privateKeyFile} does not belong to the user certificate ${trusted.certificateFile}; check privateKeyFile`,
      );
      expect(ctx.samples).toHaveLength(0);
    } finally {
      await source.stop();
    }
  });

  it('reports a private key file that is not a PEM key', async () => {
    const ctx = recordingContext(dir.path);
    const notAKey = join(dir.path, 'not-a-key.pem');
    writeFileSync(notAKey, 'hello\n');
    const source = certificateSource(ctx, { certificateFile: trusted.certificateFile, privateKeyFile: notAKey });
    await source.start();
    try {
      await waitFor(() => source.health().lastError !== undefined, 10_000, 'the key format error');
      expect(source.health().lastError).toMatch(new RegExp(`^VIGIL_SECRET_UNAVAILABLE: the user private key ${notAKey} is not an unencrypted PEM or DER private key \\(it cannot be decoded\\); check privateKeyFile$`));
    } finally {
      await source.stop();
    }
  });
});
