import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readModelPackage } from '../../agent/models/package-file.js';
import { spawnVigil } from '../helpers/agent-process.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-train-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 2, 9, 6);

/** A recording as a plant exports it: ISO times (UTC), `;`-separated, a text column, pressure following flow. */
function writeRecording(file: string, seconds: number, startSecond: number, pressureOffset = 0): void {
  let state = 12345 + startSecond;
  const noise = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296 - 0.5) * 0.4;
  const lines = ['datetime;line1.flow;line1.pressure;line1.temp;mode'];
  for (let i = 0; i < seconds; i++) {
    const t = startSecond + i;
    const flow = 50 + 5 * Math.sin((2 * Math.PI * t) / 600) + noise();
    const pressure = 2 + 0.04 * flow + noise() / 10 + pressureOffset;
    const temp = 60 + 0.5 * Math.sin((2 * Math.PI * t) / 1800) + noise() / 5;
    lines.push(`${new Date(T0 + t * 1000).toISOString().replace('T', ' ').slice(0, 19)};${flow.toFixed(3)};${pressure.toFixed(4)};${temp.toFixed(3)};auto`);
  }
  writeFileSync(file, lines.join('\n') + '\n');
}

async function vigil(args: string[]): Promise<{ code: number | null; out: string }> {
  const run = spawnVigil(args);
  const code = await run.exited;
  return { code, out: run.stdout() + run.stderr() };
}

describe('vigil model train (CLI, end to end)', () => {
  const normal = join(dir, 'normal.csv');
  writeRecording(normal, 3600, 0);

  it('writes a package from CSV that `vigil model check` accepts, and prints thresholds and a summary', async () => {
    const train = await vigil(['model', 'train', '--csv', normal, '--name', 'line1-pca', '--window', '30', '--hop', '5', '--to', new Date(T0 + 3000_000).toISOString(), '--out', dir]);
    expect(train.out).toContain('✔ line1-pca@1.0.0');
    expect(train.code).toBe(0);
    expect(train.out).toMatch(/thresholds {4}warn ≥ [\d.]+, alarm ≥ [\d.]+/);
    expect(train.out).toContain('3 tags (line1.flow, line1.pressure, line1.temp)');
    const pkg = join(dir, 'line1-pca-1.0.0.vmodel');
    const { manifest } = readModelPackage(readFileSync(pkg));
    expect(manifest).toMatchObject({ tags: ['line1.flow', 'line1.pressure', 'line1.temp'], samplePeriodMs: 1000, windowLength: 30, hop: 5 });
    expect(manifest.lineage?.sources).toEqual([{ kind: 'csv', name: normal, from: T0, to: T0 + 2999_000, windows: expect.any(Number) }]);

    const check = await vigil(['model', 'check', pkg]);
    expect(check.out).toContain('line1-pca@1.0.0 can be deployed');
    expect(check.code).toBe(0);
  });

  it('retrains from a parent package with more normal data: next minor version, lineage names both', async () => {
    const parent = join(dir, 'line1-pca-1.0.0.vmodel');
    expect(existsSync(parent)).toBe(true);
    const answered = join(dir, 'answered.csv');
    writeRecording(answered, 900, 9000, 0.1);
    const retrain = await vigil(['model', 'train', '--csv', normal, '--parent', parent, '--normal-extra', answered, '--out', dir]);
    expect(retrain.out).toContain('✔ line1-pca@1.1.0');
    expect(retrain.code).toBe(0);
    const { manifest } = readModelPackage(readFileSync(join(dir, 'line1-pca-1.1.0.vmodel')));
    expect(manifest.lineage?.parent).toBe('line1-pca@1.0.0');
    expect(manifest.lineage?.sources.map((s) => [s.kind, s.name])).toEqual([['csv', normal], ['normal-extra', answered]]);
    expect(manifest.windowLength).toBe(30);
    expect(manifest.hop).toBe(5);
  });

  it('names the file and line of a bad row, and writes nothing', async () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'time,flow,pressure\n1773036000000,1,2\n1773036001000,1,2\n1773036002000,x1,2\n');
    const run = await vigil(['model', 'train', '--csv', bad, '--name', 'bad-model', '--out', dir]);
    expect(run.code).toBe(1);
    expect(run.out).toContain(`✖ ${bad}:4: "x1" in column "flow" is not a number`);
    expect(existsSync(join(dir, 'bad-model-1.0.0.vmodel'))).toBe(false);
  });

  it('says when there are too few rows for the window, and when a tag never changes', async () => {
    const short = join(dir, 'short.csv');
    writeRecording(short, 50, 0);
    const tooShort = await vigil(['model', 'train', '--csv', short, '--tags', 'line1.flow,line1.pressure', '--name', 'short', '--out', dir]);
    expect(tooShort.code).toBe(1);
    expect(tooShort.out).toMatch(/✖ too little data to fit and calibrate/);

    const flat = join(dir, 'flat.csv');
    writeFileSync(flat, ['time,a,b', ...Array.from({ length: 200 }, (_, i) => `${1773036000000 + i * 1000},${i % 7},5`)].join('\n'));
    const constant = await vigil(['model', 'train', '--csv', flat, '--name', 'flat', '--out', dir]);
    expect(constant.code).toBe(1);
    expect(constant.out).toContain('✖ tag "b" never changes in the training data');
  });
});
