import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBrowse } from '../../agent/cli/browse-command.js';
import { checkConfig } from '../../agent/config/load.js';
import { TagFileSchema } from '../../agent/config/schema.js';
import { startOpcuaPlant, type OpcuaPlant } from '../../agent/demo/opcua-plant.js';
import { probeOpcuaSource } from '../../agent/sources/opcua/probe-opcua.js';
import { silentLogger } from '../../shared/logger.js';
import { opcuaSource, opcuaTag, tempDir } from '../helpers/opcua-server.js';

const NSU = 'nsu=urn:vigil:demo:pumps';

describe('vigil browse and check --connect against the simulated plant', () => {
  let plant: OpcuaPlant;
  const dir = tempDir('vigil-opcua-browse-');
  const pkiDir = join(dir.path, 'pki');
  const browseOpts = { depth: 6, root: 'i=85', securityMode: 'None', pkiDir };

  beforeAll(async () => {
    plant = await startOpcuaPlant({ port: 0, pumps: 2, extraVariables: 30, extraNamespacesFirst: ['urn:other:first'] });
  });
  afterAll(async () => {
    await plant?.stop();
    dir.remove();
  });

  it('prints every plant variable with its nsu= node id, data type and display name', async () => {
    const lines: string[] = [];
    const code = await runBrowse(plant.endpoint, browseOpts, (l) => lines.push(l));
    expect(code).toBe(0);
    expect(lines[0]).toMatch(/^NODE ID\s+DATA TYPE\s+DISPLAY NAME$/);
    const row = (id: string) => lines.find((l) => l.startsWith(`${NSU};s=${id} `));
    expect(row('Pump1.Temperature')).toMatch(/\sDouble\s+Temperature$/);
    expect(row('Pump2.Running')).toMatch(/\sBoolean\s+Running$/);
    expect(row('Diag.Text')).toMatch(/\sString\s+Text$/);
    expect(row('Diag.Counter')).toMatch(/\sInt32\s+Counter$/);
    expect(lines.filter((l) => l.includes(';s=Bulk.'))).toHaveLength(30);
    // Never the index form, and the Server object's diagnostics are not listed.
    expect(lines.slice(1).every((l) => l.startsWith('nsu='))).toBe(true);
    expect(lines.some((l) => l.includes('ServerStatus'))).toBe(false);
  });

  it('honours --root and --depth', async () => {
    const lines: string[] = [];
    expect(await runBrowse(plant.endpoint, { ...browseOpts, root: `${NSU};s=Pump1`, depth: 1 }, (l) => lines.push(l))).toBe(0);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(
      ['Temperature', 'Pressure', 'FlowRate', 'Vibration', 'MotorCurrent', 'Running'].map((s) => `${NSU};s=Pump1.${s}`),
    );
    const shallow: string[] = [];
    expect(await runBrowse(plant.endpoint, { ...browseOpts, depth: 1 }, (l) => shallow.push(l))).toBe(0);
    expect(shallow).toEqual(['no variables found under i=85 within depth 1']);
  });

  it.each(['yaml', 'csv'])('writes a %s tag file skeleton that vigil check accepts', async (ext) => {
    const out = join(dir.path, `tags.${ext}`);
    expect(await runBrowse(plant.endpoint, { ...browseOpts, out, source: 'plant' }, () => undefined)).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text).toContain(`PumpStation.Pump1.Temperature`);
    expect(text).not.toContain('Diag.Text'); // a String cannot be a tag
    if (ext === 'yaml') {
      const parsed = TagFileSchema.parse(parse(text));
      expect(Array.isArray(parsed) ? parsed : parsed.tags).toHaveLength(2 * 6 + 3 + 30);
    } else {
      expect(text.split('\n')[0]).toBe('name,source,nodeId,samplingIntervalMs,unit,description');
    }
    const configFile = join(dir.path, `agent-${ext}.yaml`);
    writeFileSync(
      configFile,
      [
        'agent:',
        '  id: gw-test',
        'sources:',
        '  - name: plant',
        '    type: opcua',
        `    endpoint: ${plant.endpoint}`,
        'tagFiles:',
        `  - tags.${ext}`,
        '',
      ].join('\n'),
    );
    const result = await checkConfig(configFile);
    expect(result.issues.filter((i) => i.severity !== 'warning')).toEqual([]);
    expect(result.config?.opcuaTags).toHaveLength(2 * 6 + 3 + 30);
    expect(result.config?.opcuaTags.find((t) => t.name === 'PumpStation.Pump2.Pressure')?.nodeId).toBe(`${NSU};s=Pump2.Pressure`);
  });

  it('fails clearly when the endpoint does not answer', async () => {
    const code = await runBrowse('opc.tcp://127.0.0.1:1', { ...browseOpts }, () => undefined);
    expect(code).toBe(1);
  });

  it('probeOpcuaSource reports ok with type and value, and fail for unknown namespaces, nodes and non-numeric types', async () => {
    const tags = [
      opcuaTag('temp', `${NSU};s=Pump1.Temperature`),
      opcuaTag('running', `${NSU};s=Pump1.Running`),
      opcuaTag('text', `${NSU};s=Diag.Text`),
      opcuaTag('nonode', `${NSU};s=Pump7.Temperature`),
      opcuaTag('nons', 'nsu=urn:typo:pumps;s=Pump1.Temperature'),
      opcuaTag('bad', `${NSU};s=Diag.Bad`),
    ];
    const results = await probeOpcuaSource(opcuaSource({ endpoint: plant.endpoint }), tags, { dataDir: dir.path, agentId: 'gw-test', log: silentLogger(), timeoutMs: 5000 });
    const by = Object.fromEntries(results.map((r) => [r.tag, r]));
    expect(by.temp).toMatchObject({ status: 'ok', source: 'plc1' });
    expect(by.temp!.detail).toMatch(/^Double, value \d+(\.\d+)?$/);
    expect(by.running).toMatchObject({ status: 'ok', detail: 'Boolean, value true' });
    expect(by.text).toMatchObject({ status: 'fail' });
    expect(by.text!.detail).toMatch(/String is not numeric/);
    expect(by.nonode!.status).toBe('fail');
    expect(by.nonode!.detail).toMatch(/BadNodeIdUnknown/);
    expect(by.nons!.status).toBe('fail');
    expect(by.nons!.detail).toMatch(/VIGIL_OPCUA_NAMESPACE_UNKNOWN.*urn:typo:pumps/);
    expect(by.bad).toMatchObject({ status: 'warn', detail: 'Double, value status BadSensorFailure' });
  });

  it('probeOpcuaSource fails every tag with the reason when the server is unreachable', async () => {
    const results = await probeOpcuaSource(opcuaSource({ endpoint: 'opc.tcp://127.0.0.1:1' }), [opcuaTag('temp', `${NSU};s=Pump1.Temperature`)], {
      dataDir: dir.path,
      agentId: 'gw-test',
      log: silentLogger(),
      timeoutMs: 3000,
    });
    expect(results).toEqual([{ tag: 'temp', source: 'plc1', status: 'fail', detail: expect.stringMatching(/VIGIL_OPCUA_CONNECT_FAILED.*connection refused/) }]);
  });
});
