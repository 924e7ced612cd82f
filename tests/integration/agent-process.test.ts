import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_NAMESPACE_URI, startOpcuaPlant, type OpcuaPlant } from '../../agent/demo/opcua-plant.js';
import { requireBroker } from '../helpers/broker.js';
import { eventually, spawnVigil } from '../helpers/agent-process.js';

interface TagsBody {
  tags: Array<{ tag: string; source: string; value: number | null; quality: string | null; samples: number; lastError: string | null }>;
}

/**
 * The agent as plant IT runs it: `vigil agent --config file` as its own
 * process, reading a real OPC UA server and the machine's Mosquitto, seen
 * through its HTTP endpoints, stopped with SIGTERM.
 */
describe('vigil agent (real process)', () => {
  let plant: OpcuaPlant;
  let dir: string;
  let brokerUrl: string;
  const prefix = `vigil-e2e-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    brokerUrl = await requireBroker();
    plant = await startOpcuaPlant({ port: 0, pumps: 2, updateIntervalMs: 200 });
    dir = mkdtempSync(join(tmpdir(), 'vigil-agent-e2e-'));
  });
  afterAll(async () => {
    await plant?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows OPC UA and MQTT tags live on /tags, is healthy, and stops cleanly on SIGTERM', async () => {
    writeFileSync(
      join(dir, 'agent.yaml'),
      [
        'agent: { id: e2e-gw, dataDir: ./state }',
        'http: { port: 0 }',
        'sources:',
        `  - { name: plc1, type: opcua, endpoint: "${plant.endpoint}", publishingIntervalMs: 200 }`,
        `  - { name: broker, type: mqtt, url: "${brokerUrl}", clientId: "${prefix}" }`,
        'tagFiles: [tags.csv]',
        'tags:',
        `  - { name: "line.{1}.temp", source: broker, topic: "${prefix}/+/temp", json: { value: v, timestamp: t } }`,
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tags.csv'),
      ['name,source,nodeId', `pump1.temperature,plc1,nsu=${DEMO_NAMESPACE_URI};s=Pump1.Temperature`, `pump2.running,plc1,nsu=${DEMO_NAMESPACE_URI};s=Pump2.Running`, `ghost,plc1,nsu=${DEMO_NAMESPACE_URI};s=NoSuchNode`].join('\n'),
    );

    const agent = spawnVigil(['agent', '--config', join(dir, 'agent.yaml')]);
    try {
      const running = await agent.waitForLog('agent running');
      const url = String(running.http);

      const publisher = await mqtt.connectAsync(brokerUrl, { clientId: `${prefix}-pub` });
      const timer = setInterval(() => void publisher.publish(`${prefix}/a7/temp`, JSON.stringify({ v: 21.5, t: Date.now() }), { qos: 1 }), 100);
      let lastSeen = '';
      try {
        const tags = await eventually(async () => {
          const body = (await (await fetch(`${url}/tags`)).json()) as TagsBody;
          lastSeen = JSON.stringify(body.tags);
          const byName = new Map(body.tags.map((t) => [t.tag, t]));
          const live = ['pump1.temperature', 'pump2.running', 'line.a7.temp'].every((n) => (byName.get(n)?.samples ?? 0) > 0);
          return live && byName.get('ghost')?.lastError ? byName : undefined;
        }, 'OPC UA and MQTT tags to be live on /tags').catch((err: Error) => {
          throw new Error(`${err.message}; last /tags: ${lastSeen}\n${agent.stdout()}`);
        });
        expect(tags.get('line.a7.temp')).toMatchObject({ source: 'broker', value: 21.5, quality: 'good' });
        expect(tags.get('pump2.running')).toMatchObject({ source: 'plc1', value: 1, quality: 'good' });
        expect(tags.get('pump1.temperature')?.quality).toBe('good');
        expect(tags.get('ghost')).toMatchObject({ samples: 0 });
        expect(tags.get('ghost')?.lastError).toMatch(/NoSuchNode|BadNodeIdUnknown|unknown/i);
      } finally {
        clearInterval(timer);
        await publisher.endAsync();
      }

      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(200);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/vigil_source_samples_total\{source="plc1",type="opcua"\} [1-9]/);
      expect(metrics).toMatch(/vigil_source_samples_total\{source="broker",type="mqtt"\} [1-9]/);

      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
      expect(agent.stdout()).toContain('"msg":"agent stopped"');
    } finally {
      agent.child.kill('SIGKILL');
    }
  });

  it('vigil check --connect dry-runs every tag against the live servers and prints a table per source', async () => {
    writeFileSync(
      join(dir, 'probe.yaml'),
      [
        'agent: { id: e2e-gw, dataDir: ./state }',
        'sources:',
        `  - { name: plc1, type: opcua, endpoint: "${plant.endpoint}" }`,
        `  - { name: broker, type: mqtt, url: "${brokerUrl}" }`,
        'tags:',
        `  - { name: pump1.temperature, source: plc1, nodeId: "nsu=${DEMO_NAMESPACE_URI};s=Pump1.Temperature" }`,
        `  - { name: ghost, source: plc1, nodeId: "nsu=${DEMO_NAMESPACE_URI};s=NoSuchNode" }`,
        `  - { name: "probe.{1}", source: broker, topic: "${prefix}-probe/+", format: number }`,
      ].join('\n'),
    );
    const publisher = await mqtt.connectAsync(brokerUrl, { clientId: `${prefix}-probe-pub` });
    const timer = setInterval(() => void publisher.publish(`${prefix}-probe/x`, '12.5'), 100);
    try {
      const check = spawnVigil(['check', join(dir, 'probe.yaml'), '--connect', '--listen', '2']);
      expect(await check.exited).toBe(1);
      const out = check.stdout();
      expect(out).toMatch(/pump1\.temperature\s+✔ ok\s+Double, value \d/);
      expect(out).toMatch(/ghost\s+✖ fail\s+.*BadNodeIdUnknown/);
      expect(out).toMatch(/probe\.\{1\}\s+✔ ok\s+\d+ messages, last 12\.5/);
    } finally {
      clearInterval(timer);
      await publisher.endAsync();
    }
  });

  it('refuses an invalid configuration with file, line and what to write, and exits 1', async () => {
    writeFileSync(join(dir, 'bad.yaml'), ['agent: { id: e2e-gw }', 'sources:', '  - name: plc1', '    type: opcua', '    endpont: opc.tcp://x:4840'].join('\n'));
    const agent = spawnVigil(['agent', '--config', join(dir, 'bad.yaml')]);
    expect(await agent.exited).toBe(1);
    expect(agent.stderr()).toMatch(/bad\.yaml:5:5/);
    expect(agent.stderr()).toContain('did you mean "endpoint"');
  });
});

describe('vigil demo (real process)', () => {
  it('runs the simulated plant and an agent; every demo tag is live', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-demo-'));
    const demo = spawnVigil(['demo', '--port', '0', '--data', dataDir, '--duration', '25']);
    try {
      const running = await demo.waitForLog('agent running');
      const url = String(running.http);
      const body = await eventually(async () => {
        const b = (await (await fetch(`${url}/tags`)).json()) as TagsBody;
        const opcua = b.tags.filter((t) => t.source === 'plc1');
        const mqttTags = b.tags.filter((t) => t.source === 'plant');
        const sparkplug = b.tags.filter((t) => t.tag.startsWith('compressor1.'));
        return opcua.length >= 18 && opcua.every((t) => t.samples > 0) && mqttTags.length >= 16 && sparkplug.length === 3 ? b : undefined;
      }, 'all demo tags to be live');
      expect(body.tags.every((t) => t.quality === 'good')).toBe(true);
      expect(demo.stdout()).toContain('/tags?format=text');
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      demo.child.kill('SIGINT');
      expect(await demo.exited).toBe(0);
    } finally {
      demo.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
