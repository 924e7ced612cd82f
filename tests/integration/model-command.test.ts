import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runModelCheck, runModelPack } from '../../agent/cli/model-command.js';
import { packModel, readModelPackage } from '../../agent/models/package-file.js';
import { writeUstar } from '../../agent/models/ustar.js';
import { pcaManifest } from '../helpers/pca-package.js';

// Real reference models and real ONNX Runtime: the same checks the agent makes.
const fixture = (name: string) => new URL(`../fixtures/models/${name}`, import.meta.url).pathname;
const fixtureBytes = (name: string) => new Uint8Array(readFileSync(fixture(name)));

let dir: string;
let cwd: string;

const pumpPca = pcaManifest({
  name: 'pump-pca',
  version: '1.2.0',
  description: 'Pump 1 bearing and flow',
  tags: ['pump1.temp', 'pump1.flow', 'line1.pump1.pressure', 'line1.pump1.current'],
  thresholds: { warn: 3, alarm: 6 },
  onnx: { file: 'pca4x60.onnx' },
});

async function run(command: (out: (line: string) => void) => Promise<number>): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await command((line) => lines.push(line));
  return { code, text: lines.join('\n') };
}

/** A package built without `vigil model pack`'s checks, to see that `check` refuses it. */
async function rawPackage(name: string, onnx: Uint8Array, manifest: unknown): Promise<string> {
  const file = join(dir, name);
  writeFileSync(file, (await packModel(onnx, manifest)).bytes);
  return file;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-model-cmd-'));
  cwd = process.cwd();
  process.chdir(dir);
  writeFileSync(
    join(dir, 'pca.manifest.yaml'),
    `# A manifest written by hand, as the README shows.
format: vigil-model/1
name: pump-pca
version: 1.2.0
description: Pump 1 bearing and flow
input: { name: window, dtype: float32, layout: "batch,time,tag" }
tags: [pump1.temp, pump1.flow, line1.pump1.pressure, line1.pump1.current]
samplePeriodMs: 1000
windowLength: 60
hop: 10
output: { score: score, contributions: contrib }
thresholds: { warn: 3, alarm: 6 }
onnx: { file: pca4x60.onnx }
`,
  );
  writeFileSync(
    join(dir, 'ae.json'),
    JSON.stringify({
      format: 'vigil-model/1', name: 'ae-chfirst', version: '0.3.0',
      input: { name: 'x', dtype: 'float32', layout: 'batch,tag,time' },
      tags: ['a', 'b', 'c'], samplePeriodMs: 500, windowLength: 32, hop: 8,
      normalization: { mean: [0, 0, 0], std: [1, 2, 3] },
      output: { score: 'recon_error', reduce: 'squeeze' }, thresholds: { warn: 1, alarm: 2 },
    }),
  );
  writeFileSync(
    join(dir, 'fixed.yaml'),
    'format: vigil-model/1\nname: fixed\nversion: 1.0.0\ninput: { name: window, dtype: float32, layout: "batch,time,tag" }\ntags: [x, y]\nsamplePeriodMs: 100\nwindowLength: 10\nhop: 5\noutput: { score: score, contributions: contrib }\nthresholds: { warn: 1, alarm: 1 }\n',
  );
  // The agent: OPC UA tags by name, MQTT tags through a name template.
  writeFileSync(
    join(dir, 'agent.yaml'),
    `agent:
  id: gw-test
sources:
  - { name: plc1, type: opcua, endpoint: "opc.tcp://127.0.0.1:48400" }
  - { name: broker, type: mqtt, url: "mqtt://127.0.0.1:1883" }
tags:
  - { name: pump1.temp, source: plc1, nodeId: "ns=2;s=T" }
  - { name: "line1.{2}.pressure", source: broker, topic: "plant/line1/+/pressure" }
`,
  );
});
afterAll(() => {
  process.chdir(cwd);
  rmSync(dir, { recursive: true, force: true });
});

describe('vigil model pack', () => {
  it('builds <name>-<version>.vmodel in the current folder from a YAML manifest, filling in the checksum', async () => {
    const { code, text } = await run((out) => runModelPack(fixture('pca4x60.onnx'), join(dir, 'pca.manifest.yaml'), {}, out));
    expect(text).toMatch(/^✔ pump-pca@1\.2\.0 → pump-pca-1\.2\.0\.vmodel \(.* KiB; ONNX sha256 [0-9a-f]{12}…; batch dynamic; dry run ok\)$/);
    expect(code).toBe(0);
    const { manifest, onnxBytes } = readModelPackage(readFileSync(join(dir, 'pump-pca-1.2.0.vmodel')));
    expect(manifest.onnx.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Buffer.from(onnxBytes).equals(Buffer.from(fixtureBytes('pca4x60.onnx')))).toBe(true);
    // No temporary file is left behind.
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('packs the documented example manifest with the model it describes', async () => {
    const example = new URL('../../config/model-manifest.example.yaml', import.meta.url).pathname;
    const { code, text } = await run((out) => runModelPack(fixture('pca4x60.onnx'), example, { out: join(dir, 'example.vmodel') }, out));
    expect(text).toContain('✔ pump-pca@1.2.0');
    expect(code).toBe(0);
  });

  it('writes into a folder given as --out (an agent\'s model folder) and from a JSON manifest', async () => {
    const models = join(dir, 'models');
    mkdirSync(models);
    const { code } = await run((out) => runModelPack(fixture('ae_chfirst.onnx'), join(dir, 'ae.json'), { out: models }, out));
    expect(code).toBe(0);
    expect(readdirSync(models)).toEqual(['ae-chfirst-0.3.0.vmodel']);
  });

  it('names the file, line and key of each manifest problem, and writes nothing', async () => {
    writeFileSync(join(dir, 'bad.yaml'), readFileSync(join(dir, 'pca.manifest.yaml'), 'utf8').replace('hop: 10', 'hopp: 10').replace('warn: 3, alarm: 6', 'warn: 6, alarm: 3'));
    const { code, text } = await run((out) => runModelPack(fixture('pca4x60.onnx'), join(dir, 'bad.yaml'), { out: join(dir, 'bad.vmodel') }, out));
    expect(code).toBe(1);
    expect(text).toContain('✖ bad.yaml: 2 problems in the manifest; no package written');
    expect(text).toMatch(/bad\.yaml:\d+:\d+ {2}hop {2}"hop" is missing; expected a number/);
    expect(text).toMatch(/bad\.yaml:10:1 {2}hopp {2}unknown key "hopp" at the top level; did you mean "hop"\?/);
    expect(existsSync(join(dir, 'bad.vmodel'))).toBe(false);
  });

  it('refuses a manifest whose sha256 belongs to another file', async () => {
    writeFileSync(join(dir, 'sha.yaml'), readFileSync(join(dir, 'pca.manifest.yaml'), 'utf8').replace('onnx: { file: pca4x60.onnx }', `onnx: { file: pca4x60.onnx, sha256: ${'ab'.repeat(32)} }`));
    const { code, text } = await run((out) => runModelPack(fixture('pca4x60.onnx'), join(dir, 'sha.yaml'), { out: join(dir, 'sha.vmodel') }, out));
    expect(code).toBe(1);
    expect(text).toContain('is not the SHA-256 of the ONNX file');
    expect(text).toContain('sha.yaml:13:');
    expect(existsSync(join(dir, 'sha.vmodel'))).toBe(false);
  });

  it('refuses to pack a damaged ONNX file', async () => {
    const { code, text } = await run((out) => runModelPack(fixture('truncated.onnx'), join(dir, 'pca.manifest.yaml'), { out: join(dir, 'trunc.vmodel') }, out));
    expect(code).toBe(1);
    expect(text).toContain('pump-pca@1.2.0 is refused: the ONNX file cannot be loaded (VIGIL_MODEL_PACKAGE_INVALID); no package written');
    expect(existsSync(join(dir, 'trunc.vmodel'))).toBe(false);
  });
});

describe('vigil model check', () => {
  it('prints a summary of a good package: input, layout, tags, window, thresholds, batch mode, dry run', async () => {
    const file = await rawPackage('pca.vmodel', fixtureBytes('pca4x60.onnx'), pumpPca);
    const { code, text } = await run((out) => runModelCheck(file, {}, out));
    expect(code).toBe(0);
    const lines = text.split('\n');
    expect(lines[0]).toBe('✔ pca.vmodel: pump-pca@1.2.0 can be deployed');
    expect(lines).toContain('  input         "window" float32 [N,60,4], layout batch,time,tag');
    expect(lines).toContain('  tags          4: pump1.temp, pump1.flow, line1.pump1.pressure, line1.pump1.current');
    expect(lines).toContain('  window        60 samples × 1 s = 60 s, every 10 samples (10 s)');
    expect(lines).toContain('  thresholds    warn ≥ 3, alarm ≥ 6');
    expect(lines).toContain('  batch mode    dynamic (due windows are scored together in one run)');
    expect(lines).toContain('  dry run       ok');
  });

  it('a channels-first model with an [N,1] output, and a model whose batch is fixed to 1', async () => {
    const ae = await run((out) => runModelCheck(join(dir, 'models', 'ae-chfirst-0.3.0.vmodel'), {}, out));
    expect(ae.code).toBe(0);
    expect(ae.text).toContain('"x" float32 [N,3,32], layout batch,tag,time');
    expect(ae.text).toContain('score "recon_error" [N,1] squeezed to [N], no contributions');
    expect(ae.text).toContain('scaling       (x - mean) / std per tag');

    const packed = await run((out) => runModelPack(fixture('fixed_batch1.onnx'), join(dir, 'fixed.yaml'), {}, out));
    expect(packed.code).toBe(0);
    const fixed = await run((out) => runModelCheck(join(dir, 'fixed-1.0.0.vmodel'), {}, out));
    expect(fixed.code).toBe(0);
    expect(fixed.text).toContain('batch mode    single (the batch axis is fixed to 1: windows are scored one by one)');
  });

  it('refuses a package holding a damaged ONNX file', async () => {
    const file = await rawPackage('truncated.vmodel', fixtureBytes('truncated.onnx'), pumpPca);
    const { code, text } = await run((out) => runModelCheck(file, {}, out));
    expect(code).toBe(1);
    expect(text.split('\n')[0]).toBe('✖ truncated.vmodel: pump-pca@1.2.0 is refused: the ONNX file cannot be loaded (VIGIL_MODEL_PACKAGE_INVALID)');
    expect(text).toContain('damaged or unreadable');
  });

  it('refuses a package whose ONNX file does not match its checksum', async () => {
    const onnx = fixtureBytes('pca4x60.onnx');
    const { manifest } = await packModel(onnx, pumpPca);
    const other = fixtureBytes('ae_chfirst.onnx');
    const file = join(dir, 'swapped.vmodel');
    writeFileSync(file, writeUstar([{ name: 'manifest.json', data: Buffer.from(JSON.stringify(manifest)) }, { name: 'pca4x60.onnx', data: other }]));
    const { code, text } = await run((out) => runModelCheck(file, {}, out));
    expect(code).toBe(1);
    expect(text).toContain("✖ swapped.vmodel: pca4x60.onnx does not match the manifest's sha256");
    expect(text).toContain('(VIGIL_MODEL_CHECKSUM_MISMATCH)');
  });

  it('refuses a package that is not a package, naming the problem', async () => {
    const file = join(dir, 'junk.vmodel');
    writeFileSync(file, 'hello');
    const { code, text } = await run((out) => runModelCheck(file, {}, out));
    expect(code).toBe(1);
    expect(text).toContain('✖ junk.vmodel: it is not a tar archive');
  });

  it('lists every disagreement between the manifest and the ONNX file (wrong tag count, wrong output name)', async () => {
    const wrong = { ...pumpPca, tags: ['a', 'b', 'c'], output: { score: 'anomaly', contributions: 'contrib' } };
    const file = await rawPackage('wrong.vmodel', fixtureBytes('pca4x60.onnx'), wrong);
    const { code, text } = await run((out) => runModelCheck(file, {}, out));
    expect(code).toBe(1);
    const lines = text.split('\n');
    expect(lines[0]).toBe('✖ wrong.vmodel: pump-pca@1.2.0 is refused (VIGIL_MODEL_REFUSED)');
    expect(lines).toContain('  - input "window": the manifest says 3 tags but the model\'s tag axis (dim 2) is 4');
    expect(lines.some((l) => l.startsWith('  - output "anomaly"') && l.includes('"score"'))).toBe(true);
  });

  it('with --config, names the model tags the agent does not have, and accepts tags an MQTT template produces', async () => {
    const file = await rawPackage('pca-tags.vmodel', fixtureBytes('pca4x60.onnx'), pumpPca);
    const { code, text } = await run((out) => runModelCheck(file, { config: join(dir, 'agent.yaml') }, out));
    expect(code).toBe(1);
    const missing = text.split('\n').find((l) => l.includes('tags not configured on this agent'));
    // pump1.temp is an OPC UA tag and line1.pump1.pressure comes from the template line1.{2}.pressure.
    expect(missing).toContain('"pump1.flow", "line1.pump1.current"');
    expect(missing).not.toContain('pump1.temp"');
    expect(missing).not.toContain('pressure');

    writeFileSync(join(dir, 'agent-all.yaml'), readFileSync(join(dir, 'agent.yaml'), 'utf8') + '  - { name: pump1.flow, source: plc1, nodeId: "ns=2;s=F" }\n  - { name: "line1.{2}.current", source: broker, topic: "plant/line1/+/current" }\n');
    const ok = await run((out) => runModelCheck(file, { config: join(dir, 'agent-all.yaml') }, out));
    expect(ok.code).toBe(0);
    expect(ok.text).toContain('(all configured in agent-all.yaml)');
  });

  it('with a broken agent configuration, says to fix it first', async () => {
    writeFileSync(join(dir, 'broken.yaml'), 'agent:\n  idd: gw\n');
    const file = join(dir, 'pca.vmodel');
    const { code, text } = await run((out) => runModelCheck(file, { config: join(dir, 'broken.yaml') }, out));
    expect(code).toBe(1);
    expect(text).toContain('✖ the agent configuration has errors; fix them first');
    expect(text).toMatch(/broken\.yaml:2:3/);
  });
});
