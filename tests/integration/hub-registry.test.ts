import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiRequest, ApiRoute } from '../../cloud-sync/api/api-route.js';
import { modelRoutes } from '../../cloud-sync/api/model-routes.js';
import { HubRegistry } from '../../cloud-sync/registry/hub-registry.js';
import { loadOrCreateSigningKey, signingKeyPaths } from '../../cloud-sync/registry/signing-key.js';
import type { HubStorage, ModelVersionRecord } from '../../cloud-sync/storage/hub-storage.js';
import { openLmdbHubStorage } from '../../cloud-sync/storage/lmdb-storage.js';
import { silentLogger } from '../../shared/logger.js';
import { checkPackageSignature, sha256Hex, signPackage } from '../../shared/package-signature.js';
import { PCA_ONNX, pcaPackage, PUMP1_TAGS } from '../helpers/pca-package.js';

/** The registry on real LMDB storage and a real key pair in a temp data directory. */

let dataDir: string;
let storage: HubStorage;

beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'vigil-hub-registry-'));
  storage = await openLmdbHubStorage(join(dataDir, 'store'));
});

afterEach(async () => {
  await storage.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const pkg = (version: string, warn = 1) => pcaPackage({ name: 'pump-pca', version, tags: PUMP1_TAGS, samplePeriodMs: 1000, warn });

function flipByte(bytes: Buffer, at: number): Buffer {
  const copy = Buffer.from(bytes);
  copy.writeUInt8(copy.readUInt8(at) ^ 0xff, at);
  return copy;
}

function registryWith(privateKey = loadOrCreateSigningKey(dataDir).privateKey, now = () => 1_700_000_000_000): HubRegistry {
  return new HubRegistry({ storage, privateKey, log: silentLogger(), now });
}

describe('hub signing key', () => {
  it('is created once with a 0600 private key, and reused across restarts', () => {
    const first = loadOrCreateSigningKey(dataDir);
    const paths = signingKeyPaths(dataDir);
    expect(first.created).toBe(true);
    expect(statSync(paths.privateKey).mode & 0o777).toBe(0o600);
    expect(statSync(paths.publicKey).mode & 0o777).toBe(0o644);
    expect(readFileSync(paths.publicKey, 'utf8')).toBe(first.publicKeyPem);
    expect(first.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);

    const again = loadOrCreateSigningKey(dataDir);
    expect(again.created).toBe(false);
    expect(again.publicKeyPem).toBe(first.publicKeyPem);
    // A package signed after the restart verifies with the public key agents were given before it.
    const bytes = Buffer.from('package bytes');
    expect(checkPackageSignature(bytes, sha256Hex(bytes), signPackage(bytes, again.privateKey), first.publicKeyPem)).toEqual({ ok: true });
  });

  it('rewrites a damaged public key file from the private key', () => {
    const first = loadOrCreateSigningKey(dataDir);
    writeFileSync(signingKeyPaths(dataDir).publicKey, 'garbage');
    expect(loadOrCreateSigningKey(dataDir).publicKeyPem).toBe(first.publicKeyPem);
    expect(readFileSync(signingKeyPaths(dataDir).publicKey, 'utf8')).toBe(first.publicKeyPem);
  });

  it('refuses a private key other users can read, and says how to fix it', () => {
    loadOrCreateSigningKey(dataDir);
    const file = signingKeyPaths(dataDir).privateKey;
    chmodSync(file, 0o644);
    expect(() => loadOrCreateSigningKey(dataDir)).toThrow(expect.objectContaining({ code: 'VIGIL_SECRET_UNAVAILABLE', message: expect.stringContaining(`chmod 600 ${file}`) }));
    chmodSync(file, 0o600);
    expect(loadOrCreateSigningKey(dataDir).created).toBe(false);
  });

  it('refuses a private key file that is not a key', () => {
    const { privateKey } = signingKeyPaths(dataDir);
    loadOrCreateSigningKey(dataDir);
    writeFileSync(privateKey, 'not a key', { mode: 0o600 });
    expect(() => loadOrCreateSigningKey(dataDir)).toThrow(expect.objectContaining({ code: 'VIGIL_SECRET_UNAVAILABLE', message: expect.stringContaining('cannot be read as a PEM private key') }));
  });
});

describe('HubRegistry.upload', () => {
  it('stores a checked package with a signature that verifies with the hub public key', async () => {
    const { privateKey, publicKeyPem } = loadOrCreateSigningKey(dataDir);
    const bytes = await pkg('1.2.0');
    const record = await registryWith(privateKey).upload(bytes, 'alice');
    expect(record).toMatchObject({ name: 'pump-pca', version: '1.2.0', description: '', sha256: sha256Hex(bytes), size: bytes.length, uploadedAt: 1_700_000_000_000, uploadedBy: 'alice' });
    expect(record.manifest).toMatchObject({ name: 'pump-pca', version: '1.2.0', tags: PUMP1_TAGS, onnx: { sha256: sha256Hex(PCA_ONNX) } });

    expect(checkPackageSignature(bytes, record.sha256, record.signature, publicKeyPem)).toEqual({ ok: true });
    const tampered = flipByte(bytes, bytes.length - 2000);
    expect(checkPackageSignature(tampered, sha256Hex(tampered), record.signature, publicKeyPem)).toMatchObject({ ok: false, reason: expect.stringContaining('signature does not match') });

    expect(await storage.getModelVersion('pump-pca', '1.2.0')).toEqual(record);
    expect(Buffer.from((await storage.getPackage('pump-pca', '1.2.0'))!)).toEqual(bytes);
  });

  it('refuses a second upload of a version, even with other bytes: versions are immutable', async () => {
    const registry = registryWith();
    const original = await registry.upload(await pkg('1.2.0'), 'alice');
    await expect(registry.upload(await pkg('1.2.0'), 'alice')).rejects.toMatchObject({
      code: 'VIGIL_API_CONFLICT',
      message: 'model pump-pca version 1.2.0 exists (the same package was uploaded before); versions are immutable — raise the version',
    });
    await expect(registry.upload(await pkg('1.2.0', 2), 'bob')).rejects.toMatchObject({
      code: 'VIGIL_API_CONFLICT',
      message: 'model pump-pca version 1.2.0 exists; versions are immutable — raise the version',
    });
    expect(await storage.getModelVersion('pump-pca', '1.2.0')).toEqual(original);
  });

  it('refuses damaged packages with the reason, storing nothing', async () => {
    const registry = registryWith();
    const bytes = await pkg('1.2.0');
    // The ONNX file follows the manifest's 512-byte header and data; its last bytes sit before the tar trailer.
    const damaged = flipByte(bytes, bytes.length - 1024 - 100);
    await expect(registry.upload(damaged, 'alice')).rejects.toMatchObject({
      code: 'VIGIL_API_BAD_REQUEST',
      message: expect.stringMatching(/VIGIL_MODEL_CHECKSUM_MISMATCH.*does not match the manifest's sha256/s),
    });
    await expect(registry.upload(bytes.subarray(0, 700), 'alice')).rejects.toMatchObject({ code: 'VIGIL_API_BAD_REQUEST', message: expect.stringContaining('VIGIL_MODEL_PACKAGE_INVALID') });
    await expect(registry.upload(Buffer.from('{"not":"a package"}'), 'alice')).rejects.toMatchObject({ code: 'VIGIL_API_BAD_REQUEST', message: expect.stringContaining('upload:') });
    expect(await storage.listModelVersions()).toEqual([]);
  });
});

describe('model routes', () => {
  const token = { kind: 'token' as const, id: 't1', name: 'alice', role: 'admin' as const };
  function request(method: string, path: string, params: Record<string, string>, body: Buffer = Buffer.alloc(0)): ApiRequest {
    return { method, path, params, query: new URLSearchParams(), headers: {}, caller: token, body: async () => body, json: async () => JSON.parse(body.toString()) as unknown };
  }

  it('uploads, lists, inspects and serves the package with its signature headers', async () => {
    const { privateKey, publicKeyPem } = loadOrCreateSigningKey(dataDir);
    let clock = 1_000;
    const routes = modelRoutes({ storage, registry: registryWith(privateKey, () => clock++) });
    const route = (method: string, path: string): ApiRoute => routes.find((r) => r.method === method && r.path === path)!;

    const upload = route('POST', '/api/models');
    expect(upload.access).toBe('admin');
    await expect(upload.handle(request('POST', '/api/models', {}))).rejects.toMatchObject({ code: 'VIGIL_API_BAD_REQUEST', message: expect.stringContaining('body: empty') });
    const v1 = await pkg('1.0.0');
    const created = await upload.handle(request('POST', '/api/models', {}, v1));
    expect(created).toMatchObject({ status: 201, json: { name: 'pump-pca', version: '1.0.0', uploadedBy: 'alice' } });
    await upload.handle(request('POST', '/api/models', {}, await pkg('1.1.0')));

    const list = await route('GET', '/api/models').handle(request('GET', '/api/models', {}));
    expect(list.json).toMatchObject({ models: [{ name: 'pump-pca', latest: '1.1.0', versions: [{ version: '1.0.0', uploadedAt: 1_000 }, { version: '1.1.0', uploadedAt: 1_001 }] }] });
    expect((list.json as { models: Array<{ versions: object[] }> }).models[0]!.versions[0]).not.toHaveProperty('manifest');

    const versions = await route('GET', '/api/models/:name/versions').handle(request('GET', '/api/models/pump-pca/versions', { name: 'pump-pca' }));
    expect((versions.json as { versions: ModelVersionRecord[] }).versions.map((v) => v.version)).toEqual(['1.0.0', '1.1.0']);
    await expect(route('GET', '/api/models/:name/versions').handle(request('GET', '/api/models/nope/versions', { name: 'nope' }))).rejects.toMatchObject({ code: 'VIGIL_API_NOT_FOUND' });

    const one = await route('GET', '/api/models/:name/versions/:version').handle(request('GET', '', { name: 'pump-pca', version: '1.0.0' }));
    expect(one.json).toMatchObject({ version: '1.0.0', manifest: { name: 'pump-pca', windowLength: 60 } });

    const download = route('GET', '/api/models/:name/versions/:version/package');
    expect(download.access).toBe('agent');
    const served = await download.handle({ ...request('GET', '', { name: 'pump-pca', version: '1.0.0' }), caller: { kind: 'agent', id: 'gw1' } });
    const bytes = Buffer.from(served.body as Uint8Array);
    expect(bytes).toEqual(v1);
    expect(served.headers).toMatchObject({ 'content-type': 'application/octet-stream', 'x-vigil-sha256': sha256Hex(v1) });
    expect(checkPackageSignature(bytes, served.headers!['x-vigil-sha256']!, served.headers!['x-vigil-signature']!, publicKeyPem)).toEqual({ ok: true });
    await expect(download.handle(request('GET', '', { name: 'pump-pca', version: '9.0.0' }))).rejects.toMatchObject({ code: 'VIGIL_API_NOT_FOUND' });
  });
});
