import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkConfig, loadConfig } from '../../agent/config/load.js';
import { parseCsvTags } from '../../agent/config/csv-tags.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function writeFiles(files: Record<string, string | Buffer>): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-load-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return { dir, file: join(dir, 'agent.yaml') };
}

const MAIN = `agent:
  id: gw-test
  dataDir: ../state
sources:
  - name: plc1
    type: opcua
    endpoint: opc.tcp://127.0.0.1:48400
    securityMode: Sign
    securityPolicy: Basic256Sha256
    user:
      type: username
      username: vigil
      passwordFile: secrets/plc1.password
  - name: plc2
    type: opcua
    endpoint: opc.tcp://127.0.0.1:48401
    pkiDir: pki2
  - name: broker
    type: mqtt
    url: mqtts://127.0.0.1:8883
    passwordFile: secrets/broker.password
    tls:
      caFile: pki/ca.pem
tagFiles:
  - tags/pumps.yaml
  - tags/mqtt.csv
tags:
  - name: pump1.temp
    source: plc1
    nodeId: nsu=urn:plant;s=Pump1.Temp
`;

describe('loadConfig', () => {
  it('loads a configuration with YAML and CSV tag files, splits tags by source type and keeps their origin', async () => {
    const { dir, file } = writeFiles({
      'agent.yaml': MAIN,
      'tags/pumps.yaml': '- name: pump2.temp\n  source: plc2\n  nodeId: ns=3;i=1042\n  deadband: { type: percent, value: 2 }\n',
      'tags/mqtt.csv': 'name,source,topic,format,valuePath,namePath,qos\nhall.{name},broker,plant/hall,json,v,id,0\nline.{1},broker,plant/+/level,number,,,\n',
      'secrets/plc1.password': 'secret\n',
      'secrets/broker.password': 'secret\n',
      'pki/ca.pem': 'x',
    });
    const config = await loadConfig(file);
    expect(config.file).toBe(file);
    expect(config.opcuaTags.map((t) => [t.name, t.origin])).toEqual([
      ['pump1.temp', { file, line: 28, column: 5 }],
      ['pump2.temp', { file: join(dir, 'tags/pumps.yaml'), line: 1, column: 3 }],
    ]);
    expect(config.opcuaTags[1]?.deadband).toEqual({ type: 'percent', value: 2 });
    expect(config.mqttTags.map((t) => [t.name, t.origin.line, t.origin.column])).toEqual([
      ['hall.{name}', 2, 1],
      ['line.{1}', 3, 1],
    ]);
    expect(config.mqttTags[0]).toMatchObject({ topic: 'plant/hall', format: 'json', json: { value: 'v', name: 'id' }, qos: 0 });
    expect(config.mqttTags[1]).toMatchObject({ format: 'number', qos: 1 });
    expect(config.mqttTags[1]).not.toHaveProperty('json');
  });

  it('applies the defaults of the schema', async () => {
    const { file } = writeFiles({
      'agent.yaml': 'agent:\n  id: gw-test\nsources:\n  - { name: plc1, type: opcua, endpoint: "opc.tcp://h:4840" }\n  - { name: b, type: mqtt, url: "mqtt://h" }\ntags:\n  - { name: t1, source: plc1, nodeId: "ns=2;i=1" }\n  - { name: t2, source: b, topic: a/b }\n',
    });
    const config = await loadConfig(file);
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8710 });
    expect(config.log).toEqual({ level: 'info' });
    expect(config.pipeline).toEqual({ capacity: 100_000 });
    expect(config.agent.dataDir).toBe(join(dirname(file), 'data'));
    expect(config.sources[0]).toMatchObject({
      securityMode: 'None',
      user: { type: 'anonymous' },
      publishingIntervalMs: 1000,
      keepAliveCount: 10,
      reconnect: { initialDelayMs: 1000, maxDelayMs: 60_000 },
      pkiDir: join(dirname(file), 'data', 'pki'),
    });
    expect(config.sources[1]).toMatchObject({ sessionExpirySeconds: 86_400, keepaliveSeconds: 30 });
    expect(config.opcuaTags[0]?.queueSize).toBe(10);
    expect(config.mqttTags[0]).toMatchObject({ format: 'json', qos: 1 });
  });

  it('makes every path absolute, relative to the folder of the configuration file', async () => {
    const { dir, file } = writeFiles({
      'agent.yaml': MAIN,
      'tags/pumps.yaml': '[]\n',
      'tags/mqtt.csv': 'name,source,topic\n',
    });
    const config = await loadConfig(file);
    expect(config.agent.dataDir).toBe(join(dir, '..', 'state'));
    const [plc1, plc2, broker] = config.sources;
    expect(plc1?.type === 'opcua' && plc1.user.type === 'username' && plc1.user.passwordFile).toBe(join(dir, 'secrets/plc1.password'));
    expect(plc1?.type === 'opcua' && plc1.pkiDir).toBe(join(dir, '..', 'state', 'pki'));
    expect(plc2?.type === 'opcua' && plc2.pkiDir).toBe(join(dir, 'pki2'));
    expect(broker?.type === 'mqtt' && broker.passwordFile).toBe(join(dir, 'secrets/broker.password'));
    expect(broker?.type === 'mqtt' && broker.tls?.caFile).toBe(join(dir, 'pki/ca.pem'));
  });

  it('warns, without failing, about secret files that are missing on this machine', async () => {
    const { dir, file } = writeFiles({ 'agent.yaml': MAIN, 'tags/pumps.yaml': '[]\n', 'tags/mqtt.csv': 'name,source,topic\n' });
    const result = await checkConfig(file);
    expect(result.config).toBeDefined();
    expect(result.issues.map((i) => [i.severity, i.line, i.path, i.message])).toEqual([
      ['warning', 13, 'sources[0].user.passwordFile', `the password file ${join(dir, 'secrets/plc1.password')} does not exist on this machine`],
      ['warning', 21, 'sources[2].passwordFile', `the broker password file ${join(dir, 'secrets/broker.password')} does not exist on this machine`],
      ['warning', 23, 'sources[2].tls.caFile', `the CA certificate file ${join(dir, 'pki/ca.pem')} does not exist on this machine`],
    ]);
    await expect(loadConfig(file)).resolves.toBeDefined();
  });

  it('reads a semicolon CSV from European Excel: quoted nodeIds, decimal commas, a BOM and CRLF line ends', async () => {
    const csv = '\uFEFFName;Source;NodeId;DeadbandType;DeadbandValue;Unit\r\n' + 'pump1.temp;plc1;"nsu=urn:plant;s=Pump1.Temp";absolute;0,5;degC\r\n' + ';;;;;\r\n' + 'pump1.flow;plc1;"ns=2;s=Pump1.Flow";;;\r\n';
    const { file } = writeFiles({
      'agent.yaml': 'agent:\n  id: gw-test\nsources:\n  - { name: plc1, type: opcua, endpoint: "opc.tcp://h:4840" }\ntagFiles: [tags.csv]\n',
      'tags.csv': Buffer.from(csv, 'utf8'),
    });
    const config = await loadConfig(file);
    expect(config.opcuaTags.map((t) => ({ name: t.name, nodeId: t.nodeId, deadband: t.deadband, unit: t.unit, line: t.origin.line }))).toEqual([
      { name: 'pump1.temp', nodeId: 'nsu=urn:plant;s=Pump1.Temp', deadband: { type: 'absolute', value: 0.5 }, unit: 'degC', line: 2 },
      { name: 'pump1.flow', nodeId: 'ns=2;s=Pump1.Flow', deadband: undefined, unit: undefined, line: 4 },
    ]);
  });

  it('reads a YAML configuration that starts with a BOM', async () => {
    const { file } = writeFiles({ 'agent.yaml': '\uFEFFagent:\n  id: gw-bom\n' });
    const config = await loadConfig(file);
    expect(config.agent.id).toBe('gw-bom');
  });

  it('takes a plain list or a map with tags as a YAML tag file', async () => {
    const { file } = writeFiles({
      'agent.yaml': 'agent:\n  id: gw-test\nsources:\n  - { name: b, type: mqtt, url: "mqtt://h" }\ntagFiles: [a.yml, b.yaml]\n',
      'a.yml': '- { name: t1, source: b, topic: x }\n',
      'b.yaml': 'tags:\n  - { name: t2, source: b, topic: y }\n',
    });
    const config = await loadConfig(file);
    expect(config.mqttTags.map((t) => t.name)).toEqual(['t1', 't2']);
  });
});

describe('parseCsvTags', () => {
  it('keeps the line a row starts on when a quoted cell spans lines, and skips comment lines', () => {
    const { rows, issues } = parseCsvTags('name,source,topic,description\n# a comment\nt1,b,plant/#,"two\nlines"\nt2,b,x,\n');
    expect(issues).toEqual([]);
    expect(rows.map((r) => [r.tag.name, r.tag.topic, r.line])).toEqual([
      ['t1', 'plant/#', 3],
      ['t2', 'x', 5],
    ]);
  });

  it('reports a row with too many cells and a header without a name column', () => {
    expect(parseCsvTags('name,source\nt1,b,extra\n').issues).toEqual([
      expect.objectContaining({ line: 2, column: 3, message: 'row 2 has 3 cells, the header has 2: extra cells: "extra"' }),
    ]);
    expect(parseCsvTags('source,topic\nb,x\n').issues).toEqual([
      expect.objectContaining({ line: 1, column: 1, message: 'the header has no "name" column; every tag needs a name' }),
    ]);
  });
});
