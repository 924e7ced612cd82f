import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, checkConfig, loadConfig, type ConfigIssue } from '../../agent/config/load.js';
import { didYouMean } from '../../agent/config/did-you-mean.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Writes files into a fresh temp folder; returns the path of agent.yaml in it. */
function writeFiles(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-config-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return join(dir, 'agent.yaml');
}

/** `file:line:col  path  message`, file relative to the config folder: what a test can pin exactly. */
function lines(configFile: string, issues: ConfigIssue[]): string[] {
  return issues.map((i) => `${relative(dirname(configFile), i.file)}:${i.line}:${i.column}  ${i.path}  ${i.message}`);
}

async function issuesOf(files: Record<string, string>): Promise<string[]> {
  const file = writeFiles(files);
  const result = await checkConfig(file);
  expect(result.config).toBeUndefined();
  return lines(file, result.issues);
}

// Lines 1-9; tags start on line 10.
const HEAD = `agent:
  id: gw-test
sources:
  - name: plc1
    type: opcua
    endpoint: opc.tcp://127.0.0.1:48400
  - name: broker
    type: mqtt
    url: mqtt://127.0.0.1:1883
`;

describe('configuration errors name file, line, column, key path and what to write', () => {
  it('reports an unknown key at the key, with a did-you-mean from the keys allowed there', async () => {
    const issues = await issuesOf({
      'agent.yaml': `agent:
  id: gw-test
sources:
  - name: plc1
    type: opcua
    endpont: opc.tcp://127.0.0.1:48400
`,
    });
    expect(issues).toContain('agent.yaml:6:5  sources[0].endpont  unknown key "endpont" in sources[0]; did you mean "endpoint"?');
    // The missing key is reported at the map that lacks it.
    expect(issues).toContain('agent.yaml:4:5  sources[0].endpoint  "endpoint" is missing; expected a text');
    expect(issues).toHaveLength(2);
  });

  it('reports a nodeId without a namespace at its value', async () => {
    const issues = await issuesOf({
      'agent.yaml': `${HEAD}tags:
  - name: pump1.temp
    source: plc1
    nodeId: s=Pump1
`,
    });
    expect(issues).toEqual([
      'agent.yaml:13:13  tags[0].nodeId  expected a nodeId with a namespace, e.g. nsu=urn:plant:pumps;s=Pump1.Temperature or ns=2;i=1042; found "s=Pump1"',
    ]);
  });

  it('reports a tag whose source does not exist, with a did-you-mean and the defined sources', async () => {
    const file = writeFiles({
      'agent.yaml': `${HEAD}tags:
  - name: pump1.temp
    source: plc
    nodeId: ns=2;s=Pump1
`,
    });
    const { issues } = await checkConfig(file);
    expect(lines(file, issues)).toEqual(['agent.yaml:12:13  tags[0].source  unknown source "plc"; did you mean "plc1"?']);
    expect(issues[0]?.hint).toBe('sources defined: plc1, broker');
  });

  it('reports an OPC UA tag that points at an MQTT source (and the reverse), by the tag kind', async () => {
    const issues = await issuesOf({
      'agent.yaml': `${HEAD}tags:
  - name: pump1.temp
    source: broker
    nodeId: ns=2;s=Pump1
  - name: hall.temp
    source: plc1
    topic: plant/hall/temp
`,
    });
    expect(issues).toEqual([
      'agent.yaml:13:5  tags[0].nodeId  this tag has nodeId, so it is an OPC UA tag, but source "broker" is an MQTT source',
      'agent.yaml:16:5  tags[1].topic  this tag has topic, so it is an MQTT tag, but source "plc1" is an OPC UA source',
    ]);
  });

  it('reports a duplicate tag name across files, naming where the first one is', async () => {
    const file = 'tests/fixtures/config/duplicate/agent.yaml';
    const { config, issues } = await checkConfig(file);
    expect(config).toBeUndefined();
    const shown = issues.map((i) => `${relative(process.cwd(), i.file)}:${i.line}:${i.column}  ${i.path}  ${i.message}`);
    expect(shown).toEqual([
      'tests/fixtures/config/duplicate/tags/b.csv:3:1  tags[1].name  duplicate tag name pump1.temp; first defined at tests/fixtures/config/duplicate/tags/a.yaml:6',
      'tests/fixtures/config/duplicate/tags/b.csv:4:1  tags[2].name  duplicate tag name pump1.speed; first defined at tests/fixtures/config/duplicate/agent.yaml:11',
    ]);
  });

  it('reports a CSV row with a missing cell at the first missing column', async () => {
    const issues = await issuesOf({
      'agent.yaml': `${HEAD}tagFiles: [tags.csv]\n`,
      'tags.csv': 'name,source,topic,unit\nhall.temp,broker,plant/hall/temp,degC\nhall.hum,broker\n',
    });
    expect(issues).toEqual(['tags.csv:3:3  tags[1]  row 3 has 2 cells, the header has 4: no cell for topic, unit']);
  });

  it('reports an unknown CSV column with a did-you-mean and still checks the rows', async () => {
    const issues = await issuesOf({
      'agent.yaml': `${HEAD}tagFiles: [tags.csv]\n`,
      'tags.csv': 'name;source;nodID;unit\npump1.temp;plc1;"ns=2;s=T";degC\n',
    });
    expect(issues).toEqual([
      'tags.csv:1:3  header  unknown column "nodID" in the header; did you mean "nodeId"?',
      // nodID was ignored, so the row has neither nodeId nor topic: its source decides, and nodeId is missing.
      'tags.csv:2:1  tags[0].nodeId  "nodeId" is missing; expected a text',
    ]);
  });

  it('reports a CSV cell that is not a number at its column', async () => {
    const issues = await issuesOf({
      'agent.yaml': `${HEAD}tagFiles: [tags.csv]\n`,
      'tags.csv': 'name,source,nodeId,samplingIntervalMs\npump1.temp,plc1,ns=2;s=T,fast\n',
    });
    expect(issues).toEqual(['tags.csv:2:4  tags[0].samplingIntervalMs  expected a number, found the text "fast"']);
  });

  it('refuses a password written inline, without repeating it', async () => {
    const file = writeFiles({
      'agent.yaml': `${HEAD}    username: vigil
    password: hunter2
`,
    });
    const { issues } = await checkConfig(file);
    expect(lines(file, issues)).toEqual(['agent.yaml:11:5  sources[1].password  passwords are never written inline: use passwordFile or passwordEnv instead of "password"']);
    expect(JSON.stringify(issues)).not.toContain('hunter2');
  });

  it('refuses a token anywhere, also in a tag file', async () => {
    const issues = await issuesOf({
      'agent.yaml': `${HEAD}tagFiles: [tags.yaml]\n`,
      'tags.yaml': '- name: hall.temp\n  source: broker\n  topic: plant/hall/temp\n  token: abc\n',
    });
    expect(issues).toEqual(['tags.yaml:4:3  tags[0].token  passwords are never written inline: use passwordFile or passwordEnv instead of "token"']);
  });

  it('reports a YAML syntax error with its line and column', async () => {
    const issues = await issuesOf({ 'agent.yaml': 'agent:\n  id: gw-test\n sources: []\n' });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^agent\.yaml:3:1 {4}YAML syntax error: the indentation does not line up/);
  });

  it('reports a key written twice as a syntax error', async () => {
    const issues = await issuesOf({ 'agent.yaml': 'agent:\n  id: gw-test\nagent:\n  id: gw-2\n' });
    expect(issues).toEqual(['agent.yaml:3:1    YAML syntax error: the same key appears twice in one map (Map keys must be unique)']);
  });

  it('words type, option and discriminator errors for people who do not know zod', async () => {
    const issues = await issuesOf({
      'agent.yaml': `agent:
  id: gw-test
http:
  port: fast
sources:
  - name: plc1
    type: opcua
    endpoint: opc.tcp://127.0.0.1:48400
    securityMode: Encrypt
  - name: other
    type: opc
`,
    });
    expect(issues).toEqual([
      'agent.yaml:4:9  http.port  expected a number, found the text "fast"',
      'agent.yaml:9:19  sources[0].securityMode  expected one of None, Sign, SignAndEncrypt; found "Encrypt"',
      'agent.yaml:11:11  sources[1].type  expected type opcua or mqtt; found "opc"; did you mean "opcua"?',
    ]);
  });

  it('reports an MQTT name template that uses a topic segment the topic does not have', async () => {
    const issues = await issuesOf({
      'agent.yaml': `${HEAD}tags:
  - name: line.{7}.temp
    source: broker
    topic: plant/+/temp
    format: number
`,
    });
    expect(issues).toEqual(['agent.yaml:11:11  tags[0].name  the name uses {7}, but the topic plant/+/temp has 3 segments ({0} to {2})']);
  });

  it('reports every error of every file in one run, file by file and top to bottom', async () => {
    const file = writeFiles({
      'agent.yaml': `agent:
  id: GW 1
sources:
  - name: plc1
    type: opcua
    endpoint: opc.tcp://127.0.0.1:48400
tagFiles: [tags.yaml, tags.csv, missing.csv]
tags:
  - name: pump1.temp
    source: plc1
    nodeId: Pump1.Temp
`,
      'tags.yaml': 'tags:\n  - name: pump1.flow\n    source: plc1\n    nodeId: ns=2;s=F\n    queueSize: 0\n',
      'tags.csv': 'name,source,nodeId\npump1.temp,plc2,ns=2;s=T\n',
    });
    const { config, issues } = await checkConfig(file);
    expect(config).toBeUndefined();
    expect(lines(file, issues)).toEqual([
      'agent.yaml:2:7  agent.id  expected an id of lower-case letters, digits and dashes (at most 63, starting with a letter or digit), e.g. gw-line1; found "GW 1"',
      expect.stringMatching(/^agent\.yaml:7:33 {2}tagFiles\[2\] {2}cannot read the tag file missing\.csv \(.*missing\.csv\): the file does not exist$/),
      'agent.yaml:11:13  tags[0].nodeId  expected a nodeId with a namespace, e.g. nsu=urn:plant:pumps;s=Pump1.Temperature or ns=2;i=1042; found "Pump1.Temp"',
      'tags.yaml:5:16  tags[0].queueSize  expected a number greater than 0; found the number 0',
      'tags.csv:2:1  tags[0].name  duplicate tag name pump1.temp; first defined at ' + `${file}:9`,
      'tags.csv:2:2  tags[0].source  unknown source "plc2"; did you mean "plc1"?',
    ]);
  });

  it('loadConfig throws a ConfigError with the code, every issue and a readable list', async () => {
    const file = writeFiles({ 'agent.yaml': `${HEAD}tags:\n  - name: a\n    source: plc\n    nodeId: x\n` });
    const err = await loadConfig(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const configError = err as ConfigError;
    expect(configError.code).toBe('VIGIL_CONFIG_INVALID');
    expect(configError.issues).toHaveLength(2);
    const text = configError.format();
    expect(text.split('\n')[0]).toBe(`${file}: 2 errors in the configuration`);
    expect(text).toContain(`${file}:12:13  tags[0].source  unknown source "plc"; did you mean "plc1"?\n    hint: sources defined: plc1, broker`);
    expect(text).toContain(`${file}:13:13  tags[0].nodeId  expected a nodeId`);
  });

  it('loadConfig says VIGIL_CONFIG_NOT_FOUND when the file is missing', async () => {
    await expect(loadConfig('/nonexistent/vigil/agent.yaml')).rejects.toMatchObject({ code: 'VIGIL_CONFIG_NOT_FOUND' });
  });
});

describe('didYouMean', () => {
  it('suggests plausible typos only', () => {
    expect(didYouMean('endpont', ['name', 'endpoint', 'securityMode'])).toBe('endpoint');
    expect(didYouMean('tag', ['tagFiles', 'tags'])).toBe('tags');
    expect(didYouMean('opc', ['opcua', 'mqtt'])).toBe('opcua');
    expect(didYouMean('NODEID', ['nodeId', 'topic'])).toBe('nodeId');
    expect(didYouMean('qos', ['tls', 'url'])).toBeUndefined();
    expect(didYouMean('temperature', ['name', 'source'])).toBeUndefined();
  });
});
