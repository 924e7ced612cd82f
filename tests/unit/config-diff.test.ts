import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../agent/config/load.js';
import type { ResolvedConfig } from '../../agent/config/schema.js';
import { describeDiff, diffConfig, isEmptyDiff } from '../../agent/service/config-diff.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-config-diff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SOURCES = [
  'sources:',
  '  - { name: plc1, type: opcua, endpoint: "opc.tcp://127.0.0.1:48400" }',
  '  - { name: plc2, type: opcua, endpoint: "opc.tcp://127.0.0.1:48401" }',
  '  - { name: broker, type: mqtt, url: "mqtt://127.0.0.1:1883" }',
];
const TAGS = [
  'tags:',
  '  - { name: pump1.temp, source: plc1, nodeId: "nsu=urn:plant;s=Pump1.Temp" }',
  '  - { name: pump2.temp, source: plc2, nodeId: "nsu=urn:plant;s=Pump2.Temp" }',
  '  - { name: "hall.{1}", source: broker, topic: "plant/+/t", format: number }',
];
const CSV = 'name,source,nodeId\npump1.flow,plc1,nsu=urn:plant;s=Pump1.Flow\npump1.speed,plc1,nsu=urn:plant;s=Pump1.Speed\n';

let n = 0;
/** Writes agent.yaml (and tags.csv) in a folder of their own and loads them as the agent does. */
async function load(lines: string[], csv = CSV): Promise<ResolvedConfig> {
  const folder = join(dir, String(n++));
  mkdirSync(folder);
  writeFileSync(join(folder, 'tags.csv'), csv);
  writeFileSync(join(folder, 'agent.yaml'), lines.join('\n') + '\n');
  const config = await loadConfig(join(folder, 'agent.yaml'));
  // The same file in another folder: compare as if it were the same file.
  return { ...config, file: '/etc/vigil/agent.yaml' };
}

const base = ['agent: { id: gw-1, dataDir: /var/lib/vigil/agent }', 'tagFiles: [tags.csv]', ...SOURCES, ...TAGS];

describe('diffConfig', () => {
  it('finds nothing between a configuration and itself, nor when lines only moved', async () => {
    const running = await load(base);
    expect(isEmptyDiff(diffConfig(running, await load(base)))).toBe(true);
    // Every line pushed down, inline tags in another order.
    const shifted = await load(['# a comment', '', ...base.slice(0, -3), ...base.slice(-3).reverse()]);
    const diff = diffConfig(running, shifted);
    expect(isEmptyDiff(diff)).toBe(true);
    expect(describeDiff(diff)).toBe('no source or tag changes');
  });

  it('a tag added to one source restarts that source only', async () => {
    const running = await load(base);
    const diff = diffConfig(running, await load([...base, '  - { name: pump2.flow, source: plc2, nodeId: "nsu=urn:plant;s=Pump2.Flow" }']));
    expect(diff).toEqual({
      sources: { added: [], removed: [], changed: ['plc2'] },
      tags: { added: ['pump2.flow'], removed: [], changed: [] },
      needsRestart: [],
    });
    expect(describeDiff(diff)).toBe('sources ~plc2; tags +pump2.flow');
  });

  it('a tag removed from a CSV tag file and another edited there', async () => {
    const running = await load(base);
    const csv = 'name,source,nodeId\npump1.flow,plc1,nsu=urn:plant;s=Pump1.FlowRate\n';
    const diff = diffConfig(running, await load(base, csv));
    expect(diff.tags).toEqual({ added: [], removed: ['pump1.speed'], changed: ['pump1.flow'] });
    expect(diff.sources).toEqual({ added: [], removed: [], changed: ['plc1'] });
  });

  it('a tag moved to another source changes both', async () => {
    const running = await load(base);
    const moved = base.map((l) => l.replace('name: pump1.temp, source: plc1', 'name: pump1.temp, source: plc2'));
    const diff = diffConfig(running, await load(moved));
    expect(diff.tags.changed).toEqual(['pump1.temp']);
    expect(diff.sources.changed).toEqual(['plc1', 'plc2']);
  });

  it('a source setting changes that source and none of the tags', async () => {
    const running = await load(base);
    const diff = diffConfig(running, await load(base.map((l) => l.replace('mqtt://127.0.0.1:1883" }', 'mqtt://127.0.0.1:1883", keepaliveSeconds: 10 }'))));
    expect(diff.sources).toEqual({ added: [], removed: [], changed: ['broker'] });
    expect(diff.tags).toEqual({ added: [], removed: [], changed: [] });
  });

  it('sources added and removed with their tags', async () => {
    const running = await load(base);
    const next = await load([
      'agent: { id: gw-1, dataDir: /var/lib/vigil/agent }',
      'tagFiles: [tags.csv]',
      'sources:',
      '  - { name: plc1, type: opcua, endpoint: "opc.tcp://127.0.0.1:48400" }',
      '  - { name: broker, type: mqtt, url: "mqtt://127.0.0.1:1883" }',
      '  - { name: plc3, type: opcua, endpoint: "opc.tcp://127.0.0.1:48403" }',
      'tags:',
      '  - { name: pump1.temp, source: plc1, nodeId: "nsu=urn:plant;s=Pump1.Temp" }',
      '  - { name: "hall.{1}", source: broker, topic: "plant/+/t", format: number }',
      '  - { name: pump3.temp, source: plc3, nodeId: "nsu=urn:plant;s=Pump3.Temp" }',
    ]);
    const diff = diffConfig(running, next);
    expect(diff.sources).toEqual({ added: ['plc3'], removed: ['plc2'], changed: [] });
    expect(diff.tags).toEqual({ added: ['pump3.temp'], removed: ['pump2.temp'], changed: [] });
  });

  it('keys read once at start are listed, by dotted key, as needing a restart', async () => {
    const running = await load(base);
    const next = await load([
      'agent: { id: gw-2, dataDir: /var/lib/vigil/agent }',
      'http: { port: 8711 }',
      'store: { quotaBytes: 2000000 }',
      'models: { maxBatch: 64, dir: /opt/models }',
      'log: { level: debug }',
      'hub: { url: "wss://hub.plant.local:8720", tokenEnv: HUB_TOKEN, publicKeyFile: hub.pub }',
      ...base.slice(1),
    ]);
    const diff = diffConfig(running, next);
    expect(diff.needsRestart).toEqual(['agent.id', 'http.port', 'log.level', 'models.maxBatch', 'models.dir', 'store.quotaBytes', 'hub']);
    expect(diff.sources).toEqual({ added: [], removed: [], changed: [] });
    expect(isEmptyDiff(diff)).toBe(false);
  });
});
