import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpcuaPlant, type OpcuaPlant } from '../../agent/demo/opcua-plant.js';
import type { OpcuaSourceConfig } from '../../agent/config/schema.js';
import { OpcuaSource } from '../../agent/sources/opcua/opcua-source.js';
import { opcuaSource, opcuaTag, recordingContext, tempDir, waitFor } from '../helpers/opcua-server.js';

const NSU = 'nsu=urn:vigil:demo:pumps';

describe('OPC UA source security: Sign (signed, not encrypted)', () => {
  let plant: OpcuaPlant;
  const dir = tempDir('vigil-opcua-sign-');
  // One agent PKI and one server PKI for the whole file: RSA key generation is the slow part.
  const pkiDir = join(dir.path, 'pki');
  const serverPki = join(dir.path, 'server-pki');
  const passwordFile = join(dir.path, 'op.password');

  beforeAll(async () => {
    // Only Sign endpoints: a source that asked for anything else could not connect.
    plant = await startOpcuaPlant({ port: 0, pumps: 1, updateIntervalMs: 100, securityModes: ['Sign'], pkiDir: serverPki });
    // The server-certificate trust workflow has its own test (opcua-security);
    // here the agent trusts the server up front.
    mkdirSync(join(pkiDir, 'trusted', 'certs'), { recursive: true });
    copyFileSync(join(serverPki, 'server', 'own', 'certs', 'certificate.pem'), join(pkiDir, 'trusted', 'certs', 'plant.pem'));
  });
  afterAll(async () => {
    await plant?.stop();
    dir.remove();
  });

  const source = (ctx: ReturnType<typeof recordingContext>, security: Pick<OpcuaSourceConfig, 'securityMode' | 'securityPolicy'>) =>
    new OpcuaSource(
      opcuaSource({
        endpoint: plant.endpoint,
        ...security,
        pkiDir,
        publishingIntervalMs: 100,
        connectTimeoutMs: 3000,
        reconnect: { initialDelayMs: 200, maxDelayMs: 400 },
      }),
      [opcuaTag('counter', `${NSU};s=Diag.Counter`), opcuaTag('p1.temp', `${NSU};s=Pump1.Temperature`)],
      ctx,
    );

  it.each(['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'] as const)('reads data with Sign and %s', async (securityPolicy) => {
    const ctx = recordingContext(dir.path);
    const s = source(ctx, { securityMode: 'Sign', securityPolicy });
    await s.start();
    try {
      await waitFor(() => ctx.samples.filter((x) => x.tag === 'counter').length >= 3, 10_000, `samples with Sign ${securityPolicy}`);
      expect(s.health().connected).toBe(true);
      expect(s.health().lastError).toBeUndefined();
      expect(ctx.samples.some((x) => x.tag === 'p1.temp')).toBe(true);
      expect(ctx.samples.every((x) => x.quality === 'good')).toBe(true);
      expect(s.counters().errors.connect ?? 0).toBe(0);
    } finally {
      await s.stop();
    }
  });

  it('defaults the policy to Basic256Sha256 when only securityMode Sign is given', async () => {
    const ctx = recordingContext(dir.path);
    const s = source(ctx, { securityMode: 'Sign' });
    await s.start();
    try {
      await waitFor(() => ctx.samples.length >= 2, 10_000, 'samples with Sign and the default policy');
      expect(s.health().connected).toBe(true);
    } finally {
      await s.stop();
    }
  });

  it('does not fall back to Sign when SignAndEncrypt is configured but not offered', async () => {
    const ctx = recordingContext(dir.path);
    const s = source(ctx, { securityMode: 'SignAndEncrypt', securityPolicy: 'Basic256Sha256' });
    await s.start();
    try {
      await waitFor(() => (s.counters().errors.connect ?? 0) >= 2, 10_000, 'refused connections');
      expect(s.health().connected).toBe(false);
      expect(s.health().lastError).toMatch(/^VIGIL_OPCUA_CONNECT_FAILED: the server offers no endpoint with securityMode SignAndEncrypt and securityPolicy Basic256Sha256/);
      expect(ctx.samples).toHaveLength(0);
    } finally {
      await s.stop();
    }
  });
});
