import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck, type Probes } from '../../agent/cli/check-command.js';
import type { TagProbeResult } from '../../agent/sources/probe.js';

let dir: string;
let valid: string;
let invalid: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-check-'));
  valid = join(dir, 'agent.yaml');
  invalid = join(dir, 'broken.yaml');
  writeFileSync(
    valid,
    `agent:
  id: gw-test
sources:
  - { name: plc1, type: opcua, endpoint: "opc.tcp://127.0.0.1:48400", connectTimeoutMs: 2000 }
  - { name: broker, type: mqtt, url: "mqtt://127.0.0.1:1883" }
  - { name: spare, type: mqtt, url: "mqtt://127.0.0.1:1883" }
tagFiles: [tags.csv]
tags:
  - { name: pump1.temp, source: plc1, nodeId: "ns=2;s=T" }
  - { name: pump1.flow, source: plc1, nodeId: "ns=2;s=F" }
`,
  );
  writeFileSync(join(dir, 'tags.csv'), 'name,source,topic\nhall.temp,broker,plant/hall/temp\n');
  writeFileSync(invalid, 'agent:\n  id: gw-test\n  dataDr: ./data\nsources:\n  - { name: plc1, type: opcua, endpoint: "opc.tcp://h:4840" }\ntags:\n  - { name: a, source: plc1, nodeId: "Pump1" }\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(file: string, connect: boolean, probes?: Probes): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runCheck(file, { connect, listenSeconds: 2 }, (l) => lines.push(...l.split('\n')), probes);
  return { code, lines };
}

/** Probes that answer from a table, and record what they were asked. */
function fakeProbes(answers: Record<string, Omit<TagProbeResult, 'tag' | 'source'>>, calls: string[] = []): Probes {
  const answer = (source: string, tags: Array<{ name: string }>) =>
    tags.map((t) => ({ tag: t.name, source, ...(answers[t.name] ?? { status: 'ok' as const, detail: 'Double, value 1' }) }));
  return {
    opcua: async (source, tags, opts) => {
      calls.push(`opcua ${source.name} ${tags.map((t) => t.name).join(',')} timeout=${opts.timeoutMs} agent=${opts.agentId}`);
      return answer(source.name, tags);
    },
    mqtt: async (source, tags, opts) => {
      calls.push(`mqtt ${source.name} ${tags.map((t) => t.name).join(',')} listen=${opts.listenMs}`);
      return answer(source.name, tags);
    },
  };
}

describe('vigil check', () => {
  it('exits 0 and summarises a valid configuration', async () => {
    const { code, lines } = await run(valid, false);
    expect(code).toBe(0);
    expect(lines).toEqual([`✔ ${valid}: 3 sources, 3 tags (2 files)`]);
  });

  it('exits 1 and lists every error with file, line, column and key', async () => {
    const { code, lines } = await run(invalid, false);
    expect(code).toBe(1);
    expect(lines[0]).toBe(`✖ ${invalid}: 2 errors`);
    expect(lines[1]).toBe(`${invalid}:3:3  agent.dataDr  unknown key "dataDr" in agent; did you mean "dataDir"?`);
    expect(lines[2]).toBe('    hint: allowed keys here: id, dataDir');
    expect(lines[3]?.startsWith(`${invalid}:7:38  tags[0].nodeId  expected a nodeId with a namespace`)).toBe(true);
  });

  it('does not connect when the configuration is invalid', async () => {
    const calls: string[] = [];
    const { code } = await run(invalid, true, fakeProbes({}, calls));
    expect(code).toBe(1);
    expect(calls).toEqual([]);
  });

  it('with --connect prints a table per source and exits 0 when no tag fails', async () => {
    const calls: string[] = [];
    const { code, lines } = await run(valid, true, fakeProbes({ 'hall.temp': { status: 'warn', detail: 'no message within 2 s' } }, calls));
    expect(code).toBe(0);
    expect(calls.sort()).toEqual(['mqtt broker hall.temp listen=2000', 'opcua plc1 pump1.temp,pump1.flow timeout=2000 agent=gw-test']);
    expect(lines.slice(1)).toEqual([
      '',
      'plc1 (opc.tcp://127.0.0.1:48400)',
      '  tag         status  detail',
      '  ----------  ------  ------',
      '  pump1.temp  ✔ ok    Double, value 1',
      '  pump1.flow  ✔ ok    Double, value 1',
      '',
      'broker (mqtt://127.0.0.1:1883)',
      '  tag        status  detail',
      '  ---------  ------  ------',
      '  hall.temp  ⚠ warn  no message within 2 s',
      '',
      'spare (mqtt://127.0.0.1:1883)',
      '  no tags use this source',
      '',
      '✔ 3 tags checked live: 2 ok, 1 with warnings',
    ]);
  });

  it('with --connect exits 1 when a tag fails, and fails every tag of a source whose probe cannot run', async () => {
    const probes = fakeProbes({ 'pump1.flow': { status: 'fail', detail: 'BadNodeIdUnknown: no such node' } });
    probes.mqtt = async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:1883');
    };
    const { code, lines } = await run(valid, true, probes);
    expect(code).toBe(1);
    expect(lines).toContain('  pump1.flow  ✖ fail  BadNodeIdUnknown: no such node');
    expect(lines).toContain('  hall.temp  ✖ fail  connect ECONNREFUSED 127.0.0.1:1883');
    expect(lines[lines.length - 1]).toBe('✖ 2 of 3 tags failed');
  });
});
