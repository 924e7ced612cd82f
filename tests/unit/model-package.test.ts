import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VigilError } from '../../shared/errors.js';
import { ModelManifestSchema } from '../../shared/model-manifest.js';
import { formatManifestIssues, packModel, readModelPackage, sha256Hex } from '../../agent/models/package-file.js';
import { writeUstar } from '../../agent/models/ustar.js';
import { pcaManifest } from '../helpers/pca-package.js';

const onnx = new Uint8Array(readFileSync(new URL('../fixtures/models/pca4x60.onnx', import.meta.url)));
const sha = sha256Hex(onnx);

const manifest = pcaManifest({
  name: 'pump-pca',
  version: '1.2.0',
  description: 'Pump 1 bearing and flow',
  tags: ['pump1.temp', 'pump1.flow', 'pump1.pressure', 'pump1.current'],
  thresholds: { warn: 3, alarm: 6 },
  onnx: { file: 'pca4x60.onnx' },
});

async function expectVigilError(run: () => unknown, code: string): Promise<VigilError> {
  try {
    await run();
  } catch (err) {
    expect(err).toBeInstanceOf(VigilError);
    expect((err as VigilError).code).toBe(code);
    return err as VigilError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

const manifestBytes = (m: unknown) => Buffer.from(JSON.stringify(m), 'utf8');

describe('packModel / readModelPackage', () => {
  it('round-trips: the package holds the validated manifest with its checksum filled in, and the ONNX bytes unchanged', async () => {
    const packed = await packModel(onnx, manifest);
    expect(packed.manifest.onnx).toEqual({ file: 'pca4x60.onnx', sha256: sha });
    expect(packed.manifest.missingData).toEqual({ maxFilledShare: 0.2, maxBadShare: 0.1 });
    const read = readModelPackage(packed.bytes, 'pump.vmodel');
    expect(read.manifest).toEqual(packed.manifest);
    expect(Buffer.from(read.onnxBytes).equals(Buffer.from(onnx))).toBe(true);
    // The input object is not modified.
    expect(manifest.onnx).toEqual({ file: 'pca4x60.onnx' });
  });

  it('builds the same bytes from the same inputs (a reproducible package hash)', async () => {
    const a = await packModel(onnx, manifest);
    const b = await packModel(onnx, { ...manifest, onnx: { file: 'pca4x60.onnx', sha256: sha } });
    expect(a.bytes.equals(b.bytes)).toBe(true);
  });

  it('is a standard tar: GNU tar lists and extracts it, and a tar written by GNU tar reads back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-pkg-'));
    try {
      const packed = await packModel(onnx, manifest);
      writeFileSync(join(dir, 'p.vmodel'), packed.bytes);
      expect(execFileSync('tar', ['-tf', join(dir, 'p.vmodel')], { encoding: 'utf8' }).trim().split('\n')).toEqual(['manifest.json', 'pca4x60.onnx']);
      execFileSync('tar', ['-xf', 'p.vmodel'], { cwd: dir });
      execFileSync('tar', ['--format=ustar', '-cf', 'again.vmodel', 'manifest.json', 'pca4x60.onnx'], { cwd: dir });
      expect(readModelPackage(readFileSync(join(dir, 'again.vmodel'))).manifest).toEqual(packed.manifest);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a manifest whose sha256 is not the ONNX file\'s, at pack time', async () => {
    const err = await expectVigilError(() => packModel(onnx, { ...manifest, onnx: { file: 'pca4x60.onnx', sha256: 'a'.repeat(64) } }), 'VIGIL_MODEL_CHECKSUM_MISMATCH');
    expect(err.message).toContain(`(${'a'.repeat(64)}) is not the SHA-256 of the ONNX file (${sha})`);
  });

  it('refuses a package whose ONNX file was altered after packing, at read time', async () => {
    const packed = await packModel(onnx, manifest);
    const tampered = writeUstar([
      { name: 'manifest.json', data: manifestBytes(packed.manifest) },
      { name: 'pca4x60.onnx', data: Uint8Array.from(onnx, (b, i) => (i === 100 ? b ^ 1 : b)) },
    ]);
    const err = await expectVigilError(() => readModelPackage(tampered, 'pump.vmodel'), 'VIGIL_MODEL_CHECKSUM_MISMATCH');
    expect(err.message).toMatch(/^pump\.vmodel: pca4x60\.onnx does not match the manifest's sha256/);
  });
});

describe('readModelPackage refuses what is not a good package', () => {
  it('an empty file and a file that is not a tar', async () => {
    expect((await expectVigilError(() => readModelPackage(new Uint8Array(), 'x.vmodel'), 'VIGIL_MODEL_PACKAGE_INVALID')).message).toContain('x.vmodel: the file is empty');
    const err = await expectVigilError(() => readModelPackage(onnx, 'x.vmodel'), 'VIGIL_MODEL_PACKAGE_INVALID');
    expect(err.message).toContain('it is not a tar archive');
  });

  it('a damaged header (one byte flipped)', async () => {
    const bytes = Buffer.from((await packModel(onnx, manifest)).bytes);
    bytes[10] = 0x41;
    const err = await expectVigilError(() => readModelPackage(bytes), 'VIGIL_MODEL_PACKAGE_INVALID');
    expect(err.message).toContain('the header at byte 0 is damaged (checksum mismatch)');
  });

  it('a package cut short, at any length', async () => {
    const bytes = (await packModel(onnx, manifest)).bytes;
    for (const length of [100, 512, 700, 1536, 1536 + 300, bytes.length - 1024]) {
      const err = await expectVigilError(() => readModelPackage(bytes.subarray(0, length), 'cut.vmodel'), 'VIGIL_MODEL_PACKAGE_INVALID');
      expect(err.message).toMatch(/cut short|not a tar archive/);
      expect(err.message).toContain('copy it again');
    }
  });

  it('an extra entry, a missing ONNX file, a missing manifest, a duplicate entry', async () => {
    const m = (await packModel(onnx, manifest)).manifest;
    const entry = (name: string, data: Uint8Array) => ({ name, data });
    const extra = writeUstar([entry('manifest.json', manifestBytes(m)), entry('pca4x60.onnx', onnx), entry('notes.txt', Buffer.from('hi'))]);
    expect((await expectVigilError(() => readModelPackage(extra), 'VIGIL_MODEL_PACKAGE_INVALID')).message).toContain('unexpected file in the package: "notes.txt"');
    const noOnnx = writeUstar([entry('manifest.json', manifestBytes(m)), entry('model.onnx', onnx)]);
    expect((await expectVigilError(() => readModelPackage(noOnnx), 'VIGIL_MODEL_PACKAGE_INVALID')).message).toContain('the ONNX file "pca4x60.onnx" named in onnx.file is not in the package (it holds: "manifest.json", "model.onnx")');
    const noManifest = writeUstar([entry('pca4x60.onnx', onnx)]);
    expect((await expectVigilError(() => readModelPackage(noManifest), 'VIGIL_MODEL_PACKAGE_INVALID')).message).toContain('the package has no manifest.json');
    const twice = writeUstar([entry('manifest.json', manifestBytes(m)), entry('pca4x60.onnx', onnx), entry('pca4x60.onnx', onnx)]);
    expect((await expectVigilError(() => readModelPackage(twice), 'VIGIL_MODEL_PACKAGE_INVALID')).message).toContain('"pca4x60.onnx" is in the package twice');
  });

  it('a manifest that is not JSON', async () => {
    const bad = writeUstar([{ name: 'manifest.json', data: Buffer.from('{ "name": "pump-pca", ') }, { name: 'model.onnx', data: onnx }]);
    const err = await expectVigilError(() => readModelPackage(bad, 'p.vmodel'), 'VIGIL_MODEL_PACKAGE_INVALID');
    expect(err.message).toMatch(/^p\.vmodel: manifest\.json is not valid JSON \(/);
  });

  it('a manifest with errors: every problem in plain words, one per line, with did-you-mean', async () => {
    const wrong = {
      ...manifest,
      onnx: { file: 'pca4x60.onnx', sha256: sha },
      input: { name: 'window', dtype: 'float16', layout: 'batch,time,tag' },
      windowLenght: 60,
      samplePeriodMs: '1s',
    };
    const bad = writeUstar([{ name: 'manifest.json', data: manifestBytes(wrong) }, { name: 'pca4x60.onnx', data: onnx }]);
    const err = await expectVigilError(() => readModelPackage(bad, 'p.vmodel'), 'VIGIL_MODEL_PACKAGE_INVALID');
    const lines = err.message.split('\n');
    expect(lines[0]).toBe('p.vmodel: manifest.json has 3 problems:');
    expect(lines.slice(1).map((l) => l.trim()).sort()).toEqual([
      'input.dtype: expected one of float32, float64; found "float16"; did you mean "float32"?',
      'samplePeriodMs: expected a number, found the text "1s"',
      'windowLenght: unknown key "windowLenght" at the top level; did you mean "windowLength"?',
    ]);
    expect(err.details.issues).toHaveLength(3);
  });

  it('cross-field rules: alarm below warn, normalisation of the wrong length', async () => {
    const err = await expectVigilError(
      () => packModel(onnx, { ...manifest, thresholds: { warn: 2, alarm: 1 }, normalization: { mean: [0, 0], std: [1, 1, 1, 1] } }),
      'VIGIL_MODEL_PACKAGE_INVALID',
    );
    expect(err.message).toContain('thresholds.alarm: alarm (1) must not be below warn (2)');
    expect(err.message).toContain('normalization.mean: has 2 values for 4 tags');
  });

  it('an ONNX file name that cannot live in a package', async () => {
    const err = await expectVigilError(() => packModel(onnx, { ...manifest, onnx: { file: '../model.onnx' } }), 'VIGIL_MODEL_PACKAGE_INVALID');
    expect(err.message).toContain('onnx.file: expected a plain file name such as model.onnx');
  });
});

describe('config/model-manifest.example.yaml', () => {
  it('documents every manifest key', () => {
    const text = readFileSync(new URL('../../config/model-manifest.example.yaml', import.meta.url), 'utf8');
    const keys = new Set<string>();
    const walk = (schema: unknown) => {
      let s = schema as { def?: { innerType?: unknown; element?: unknown }; shape?: Record<string, unknown> };
      while (s.def?.innerType) s = s.def.innerType as typeof s;
      if (s.def?.element) walk(s.def.element);
      for (const [key, child] of Object.entries(s.shape ?? {})) {
        keys.add(key);
        walk(child);
      }
    };
    walk(ModelManifestSchema);
    expect(keys.size).toBeGreaterThan(20);
    const missing = [...keys].filter((k) => !new RegExp(`^[#\\s]*${k}:`, 'm').test(text));
    expect(missing).toEqual([]);
  });
});

describe('formatManifestIssues', () => {
  it('names the path of each problem and guesses misspelt keys', () => {
    const data = { ...manifest, thresholds: { warn: 1, alram: 2 } };
    const result = ModelManifestSchema.safeParse(data);
    expect(result.success).toBe(false);
    const lines = formatManifestIssues(result.error?.issues ?? [], data);
    expect(lines).toContain('thresholds.alram: unknown key "alram" in thresholds; did you mean "alarm"?');
    expect(lines.some((l) => l.startsWith('thresholds.alarm: "alarm" is missing; expected a number'))).toBe(true);
  });
});
