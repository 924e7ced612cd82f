import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { ModelDirectory } from '../../agent/models/model-directory.js';
import { packModel, readModelPackage } from '../../agent/models/package-file.js';
import { describeError } from '../../shared/errors.js';

const onnx = new Uint8Array(readFileSync(new URL('../fixtures/models/pca4x60.onnx', import.meta.url)));

const manifest = (version: string) => ({
  format: 'vigil-model/1',
  name: 'pump-pca',
  version,
  input: { name: 'window', dtype: 'float32', layout: 'batch,time,tag' },
  tags: ['p.temp', 'p.flow', 'p.pressure', 'p.current'],
  samplePeriodMs: 1000,
  windowLength: 60,
  hop: 10,
  output: { score: 'score', contributions: 'contrib' },
  thresholds: { warn: 3, alarm: 6 },
});

const pack = async (version: string) => (await packModel(onnx, manifest(version))).bytes;

/** Writes a package the documented way: a temporary name, then an atomic rename. */
function drop(dir: string, name: string, bytes: Uint8Array): void {
  writeFileSync(join(dir, `${name}.tmp`), bytes);
  renameSync(join(dir, `${name}.tmp`), join(dir, name));
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ModelDirectory', () => {
  let dir: string;
  let loaded: Array<{ file: string; version: string }>;
  let refused: Array<{ file: string; error: string }>;
  let logLines: Array<{ msg: string; file?: string; err?: string }>;
  let directory: ModelDirectory | undefined;

  // What the agent does with a package: read it, and refuse it with a reason if it is bad.
  const onPackage = async (file: string, bytes: Buffer) => {
    try {
      loaded.push({ file, version: readModelPackage(bytes, file).manifest.version });
    } catch (err) {
      refused.push({ file, error: describeError(err) });
      throw err;
    }
  };

  const open = (options = {}) => {
    const sink = new Writable({ write: (chunk, _enc, done) => { logLines.push(JSON.parse(String(chunk))); done(); } });
    directory = new ModelDirectory(dir, onPackage, pino({ level: 'info' }, sink), { rescanMs: 300, debounceMs: 30, settleMs: 100, ...options });
    return directory;
  };

  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'vigil-modeldir-')), 'models');
    loaded = [];
    refused = [];
    logLines = [];
  });
  afterEach(async () => {
    await directory?.stop();
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  it('creates a missing folder and delivers the packages already there before start resolves, in name order', async () => {
    const first = open();
    await first.start();
    await first.stop();
    drop(dir, 'b-1.1.0.vmodel', await pack('1.1.0'));
    drop(dir, 'a-1.0.0.vmodel', await pack('1.0.0'));
    writeFileSync(join(dir, 'notes.txt'), 'not a package');
    writeFileSync(join(dir, '.hidden.vmodel'), 'editor swap file');

    await open().start();
    expect(loaded.map((l) => l.version)).toEqual(['1.0.0', '1.1.0']);
    expect(refused).toEqual([]);
  });

  it('picks up a package dropped later with write-then-rename, and ignores the temporary file', async () => {
    const d = open();
    await d.start();
    expect(loaded).toEqual([]);
    // The temporary file alone is never read.
    writeFileSync(join(dir, 'pump-1.2.0.vmodel.tmp'), (await pack('1.2.0')).subarray(0, 600));
    await new Promise((r) => setTimeout(r, 500));
    expect(loaded).toEqual([]);
    expect(refused).toEqual([]);

    drop(dir, 'pump-1.2.0.vmodel', await pack('1.2.0'));
    await waitFor(() => loaded.length === 1, 'the dropped package');
    expect(loaded[0]).toEqual({ file: join(dir, 'pump-1.2.0.vmodel'), version: '1.2.0' });
    // Rescans do not deliver an unchanged file again.
    await new Promise((r) => setTimeout(r, 700));
    expect(loaded).toHaveLength(1);
    expect(d.snapshot()).toMatchObject({ files: 1, delivered: 1, failed: 0 });
  });

  it('reports a damaged package once and does not load it; a good replacement under the same name is read again', async () => {
    const d = open();
    await d.start();
    const good = await pack('2.0.0');
    drop(dir, 'pump.vmodel', good.subarray(0, good.length - 1200));
    await waitFor(() => refused.length === 1, 'the damaged package to be refused');
    expect(refused[0]?.error).toMatch(/^VIGIL_MODEL_PACKAGE_INVALID: .*pump\.vmodel: .*cut short/);
    expect(logLines.some((l) => l.msg.startsWith('model package not loaded') && l.file === join(dir, 'pump.vmodel'))).toBe(true);
    // Not retried while it stays the same.
    await new Promise((r) => setTimeout(r, 700));
    expect(refused).toHaveLength(1);
    expect(loaded).toEqual([]);

    drop(dir, 'pump.vmodel', good);
    await waitFor(() => loaded.length === 1, 'the repaired package');
    expect(loaded[0]?.version).toBe('2.0.0');
    expect(d.snapshot()).toMatchObject({ delivered: 2, failed: 1 });
  });

  it('re-reads a file replaced in place, and finds it by periodic rescan even without watch events', async () => {
    mkdirSync(dir);
    // A debounce longer than the test: only the periodic rescan can find the change.
    const d = open({ debounceMs: 60_000, rescanMs: 200 });
    drop(dir, 'pump.vmodel', await pack('3.0.0'));
    await d.start();
    expect(loaded.map((l) => l.version)).toEqual(['3.0.0']);
    writeFileSync(join(dir, 'pump.vmodel'), await pack('3.0.1'));
    await waitFor(() => loaded.length === 2, 'the replaced package');
    expect(loaded[1]?.version).toBe('3.0.1');
  });

  it('refuses a file larger than the limit without reading it', async () => {
    const d = open({ maxBytes: 1000 });
    mkdirSync(dir);
    drop(dir, 'big.vmodel', await pack('1.0.0'));
    await d.start();
    expect(loaded).toEqual([]);
    expect(d.snapshot()).toMatchObject({ delivered: 0, failed: 1 });
    expect(logLines.some((l) => l.msg === 'model package too large; not read')).toBe(true);
  });

  it('stop is safe twice and before start', async () => {
    const d = open();
    await d.stop();
    await d.start();
    await d.stop();
    await d.stop();
    drop(dir, 'late.vmodel', await pack('1.0.0'));
    await new Promise((r) => setTimeout(r, 500));
    expect(loaded).toEqual([]);
  });
});
