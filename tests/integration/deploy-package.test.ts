import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/logger.js';
import type { ModelManifest } from '../../shared/model-manifest.js';
import { deployPackage, type ModelLoader } from '../../agent/models/deploy-package.js';
import { ModelRegistry } from '../../agent/models/model-registry.js';
import { packModel } from '../../agent/models/package-file.js';
import { writeUstar } from '../../agent/models/ustar.js';
import { openVerifiedModel, type VerifiedModel } from '../../agent/scoring/verify-model.js';

const onnx = new Uint8Array(readFileSync(new URL('../fixtures/models/pca4x60.onnx', import.meta.url)));
const TAGS = ['p.temp', 'p.flow', 'p.pressure', 'p.current'];

const manifest = (version: string, extra: Record<string, unknown> = {}) => ({
  format: 'vigil-model/1',
  name: 'pump-pca',
  version,
  input: { name: 'window', dtype: 'float32', layout: 'batch,time,tag' },
  tags: TAGS,
  samplePeriodMs: 1000,
  windowLength: 60,
  hop: 10,
  output: { score: 'score', contributions: 'contrib' },
  thresholds: { warn: 3, alarm: 6 },
  ...extra,
});

/** The real checks in this process (the agent runs the same ones in its scoring worker). */
function inProcessLoader() {
  const sessions = new Map<string, VerifiedModel>();
  let loads = 0;
  const loader: ModelLoader = {
    async load(key: string, m: ModelManifest, bytes: Uint8Array, agentTags?: string[]) {
      loads++;
      const model = await openVerifiedModel(m, bytes, agentTags ? { agentTags: new Set(agentTags) } : {});
      sessions.set(key, model);
      return { batchMode: model.batchMode };
    },
    async unload(key: string) {
      await sessions.get(key)?.release();
      sessions.delete(key);
    },
  };
  return { loader, sessions, loads: () => loads };
}

describe('deployPackage', () => {
  it('loads, stages and hot-swaps versions; refusals and lower versions leave the active one scoring', async () => {
    const registry = new ModelRegistry();
    const { loader, sessions, loads } = inProcessLoader();
    const deps = { registry, loader, configuredTags: [...TAGS.slice(0, 2), 'p.{x}'], log: silentLogger() };
    const deploy = async (bytes: Uint8Array, origin = 'pkg.vmodel') => deployPackage(bytes, origin, deps);

    expect(await deploy((await packModel(onnx, manifest('1.0.0'))).bytes)).toEqual({ key: 'pump-pca@1.0.0', result: 'activated' });
    expect(await deploy((await packModel(onnx, manifest('1.1.0'))).bytes)).toEqual({ key: 'pump-pca@1.1.0', result: 'pending' });
    expect(registry.atWindowBoundary('pump-pca').active).toBe('pump-pca@1.1.0');

    // The ONNX file disagrees with the manifest: refused with the reason, 1.1.0 keeps scoring.
    const wrong = await deploy((await packModel(onnx, manifest('1.2.0', { windowLength: 30, hop: 5 }))).bytes);
    expect(wrong).toMatchObject({ key: 'pump-pca@1.2.0', result: 'refused', reason: expect.stringContaining('windowLength 30') });
    expect(registry.snapshot()[0]).toMatchObject({ active: '1.1.0', lastRefusal: { version: '1.2.0' } });

    // Tags the agent does not have are named.
    const tags = await deploy((await packModel(onnx, manifest('1.3.0', { tags: ['p.temp', 'p.flow', 'q.pressure', 'q.current'] }))).bytes);
    expect(tags.reason).toContain('"q.pressure", "q.current"');

    // A tampered package is refused under the model it claims to be.
    const good = await packModel(onnx, manifest('1.4.0'));
    const tampered = writeUstar([{ name: 'manifest.json', data: Buffer.from(JSON.stringify(good.manifest)) }, { name: 'model.onnx', data: onnx.slice(0, 300) }]);
    expect(await deploy(tampered, 'evil.vmodel')).toMatchObject({ key: 'pump-pca@1.4.0', result: 'refused', reason: expect.stringContaining('VIGIL_MODEL_CHECKSUM_MISMATCH') });
    expect(registry.snapshot()[0]?.lastRefusal?.version).toBe('1.4.0');

    // Not a package at all: refused, nothing recorded against a model.
    expect(await deploy(Buffer.from('junk'))).toMatchObject({ result: 'refused' });

    // A lower version is not even loaded.
    const before = loads();
    expect(await deploy((await packModel(onnx, manifest('0.9.0'))).bytes)).toMatchObject({ result: 'ignored' });
    expect(loads()).toBe(before);

    // A good upgrade: at the boundary 1.0.0 falls out of every slot and is unloaded.
    expect(await deploy(good.bytes)).toMatchObject({ result: 'pending' });
    const scorers = registry.atWindowBoundary('pump-pca');
    expect(scorers).toEqual({ active: 'pump-pca@1.4.0', released: ['pump-pca@1.0.0'] });
    for (const key of scorers.released) await loader.unload(key);
    expect([...sessions.keys()].sort()).toEqual(['pump-pca@1.1.0', 'pump-pca@1.4.0']);
    expect(registry.snapshot()[0]).toMatchObject({ state: 'scoring', active: '1.4.0', previous: '1.1.0' });
  });
});
