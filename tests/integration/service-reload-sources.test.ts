import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_NAMESPACE_URI, startOpcuaPlant, type OpcuaPlant } from '../../agent/demo/opcua-plant.js';
import { openAgentStore } from '../../agent/store/open-store.js';
import { silentLogger } from '../../shared/logger.js';
import { eventually, spawnVigil } from '../helpers/agent-process.js';
import { requireBroker } from '../helpers/broker.js';

interface TagRow {
  tag: string;
  source: string;
  value: number | null;
  samples: number;
}

interface Health {
  status: string;
  sources: Array<{ name: string; type: string; connected: boolean }>;
}

/**
 * A reload that adds a whole source (an OPC UA server next to an MQTT
 * broker) and later removes it: the new source's tags go live in /tags and
 * the source shows on /healthz, then both leave again — and the MQTT source,
 * which the reload does not touch, keeps every message throughout.
 */
describe('configuration reload adds and removes a source (real agent process, Mosquitto, OPC UA server)', () => {
  let brokerUrl: string;
  let plant: OpcuaPlant;
  let dir: string;
  const prefix = `vigil-reload-sources-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    brokerUrl = await requireBroker();
    plant = await startOpcuaPlant({ port: 0, pumps: 1, updateIntervalMs: 100 });
    dir = mkdtempSync(join(tmpdir(), 'vigil-reload-sources-'));
  });
  afterAll(async () => {
    await plant?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an added OPC UA source goes live beside the MQTT one, a removed one leaves /tags and /healthz, and the MQTT tag loses nothing', async () => {
    const mqttPart = [`  - { name: broker, type: mqtt, url: "${brokerUrl}", clientId: "${prefix}" }`];
    const opcuaPart = [`  - { name: plc1, type: opcua, endpoint: "${plant.endpoint}", publishingIntervalMs: 100 }`];
    const steadyTag = `  - { name: steady, source: broker, topic: "${prefix}/steady", json: { value: v, timestamp: t } }`;
    const plcTags = ['Temperature', 'Pressure'].map((s) => `  - { name: pump1.${s.toLowerCase()}, source: plc1, nodeId: "nsu=${DEMO_NAMESPACE_URI};s=Pump1.${s}" }`);
    const config = (withPlc: boolean) =>
      writeFileSync(
        join(dir, 'agent.yaml'),
        [
          'agent: { id: reload-sources-gw, dataDir: ./state }',
          'http: { port: 0 }',
          'sources:',
          ...mqttPart,
          ...(withPlc ? opcuaPart : []),
          'tags:',
          steadyTag,
          ...(withPlc ? plcTags : []),
        ].join('\n') + '\n',
      );
    config(false);
    const startedAt = Date.now();
    const agent = spawnVigil(['agent', '--config', join(dir, 'agent.yaml')]);
    const publisher = await mqtt.connectAsync(brokerUrl, { clientId: `${prefix}-pub` });
    let seq = 0;
    const published: Array<Promise<unknown>> = [];
    let timer: NodeJS.Timeout | undefined;
    let watching = true;
    let watcher: Promise<void> | undefined;
    try {
      const url = String((await agent.waitForLog('agent running')).http);
      const tags = async () => new Map(((await (await fetch(`${url}/tags`)).json()) as { tags: TagRow[] }).tags.map((t) => [t.tag, t]));
      const health = async () => (await (await fetch(`${url}/healthz`)).json()) as Health;
      await eventually(async () => ((await health()).sources.find((s) => s.name === 'broker')?.connected ? true : undefined), 'the MQTT source to connect');
      timer = setInterval(() => published.push(publisher.publishAsync(`${prefix}/steady`, JSON.stringify({ v: ++seq, t: Date.now() }), { qos: 1 })), 10);
      await eventually(async () => ((await tags()).get('steady')?.samples ?? 0) > 20 || undefined, 'the MQTT tag to be live');
      expect((await health()).sources.map((s) => s.name)).toEqual(['broker']);

      // The MQTT tag's sample count, sampled through both reloads: it must only grow, and grow in every second.
      const counts: Array<{ at: number; samples: number }> = [];
      watcher = (async () => {
        while (watching) {
          counts.push({ at: Date.now(), samples: (await tags()).get('steady')?.samples ?? -1 });
          await new Promise((r) => setTimeout(r, 100));
        }
      })();

      // Added: a whole OPC UA source with two tags.
      config(true);
      await agent.waitForLog('configuration reloaded: sources +plc1; tags +pump1.pressure +pump1.temperature');
      const added = await eventually(async () => {
        const t = await tags();
        return (t.get('pump1.temperature')?.samples ?? 0) > 5 && (t.get('pump1.pressure')?.samples ?? 0) > 5 ? t : undefined;
      }, 'the added source to deliver both its tags');
      expect(added.get('pump1.temperature')?.source).toBe('plc1');
      expect(added.get('pump1.pressure')?.source).toBe('plc1');
      const withPlc = await eventually(async () => {
        const h = await health();
        return h.sources.find((s) => s.name === 'plc1')?.connected ? h : undefined;
      }, 'the added source on /healthz, connected');
      expect(withPlc.status).toBe('ok');
      expect(withPlc.sources.map((s) => [s.name, s.type, s.connected])).toEqual([
        ['broker', 'mqtt', true],
        ['plc1', 'opcua', true],
      ]);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/source="plc1"/);

      // Removed again: its tags leave /tags, the source leaves /healthz and /metrics.
      config(false);
      await agent.waitForLog('configuration reloaded: sources -plc1; tags -pump1.pressure -pump1.temperature');
      const removed = await eventually(async () => {
        const t = await tags();
        return !t.has('pump1.temperature') && !t.has('pump1.pressure') ? t : undefined;
      }, 'the removed source\'s tags to leave /tags');
      expect([...removed.keys()]).toEqual(['steady']);
      const without = await health();
      expect(without.sources.map((s) => s.name)).toEqual(['broker']);
      expect(without.status).toBe('ok');
      expect(await (await fetch(`${url}/metrics`)).text()).not.toMatch(/source="plc1"/);
      // The removed source's session is gone, and nothing of it arrives any more.
      await new Promise((r) => setTimeout(r, 500));
      expect((await tags()).has('pump1.temperature')).toBe(false);

      const steadyAfter = (await tags()).get('steady')!.samples;
      await eventually(async () => ((await tags()).get('steady')?.samples ?? 0) > steadyAfter + 20 || undefined, 'the MQTT tag to keep flowing after the removal');
      watching = false;
      await watcher;
      clearInterval(timer);
      await Promise.all(published);
      const last = seq;
      await eventually(async () => ((await tags()).get('steady')?.value === last ? true : undefined), `steady to reach ${last}`);

      expect(counts.length).toBeGreaterThan(20);
      for (let i = 1; i < counts.length; i++) expect(counts[i]!.samples).toBeGreaterThanOrEqual(counts[i - 1]!.samples);
      // Published every 10 ms: no second of the watch went by without a new sample.
      for (let i = 0; i < counts.length; i++) {
        const later = counts.find((c) => c.at >= counts[i]!.at + 1000);
        if (later) expect(later.samples).toBeGreaterThan(counts[i]!.samples);
      }

      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
      if (!agent.child.stdout.closed) await once(agent.child.stdout, 'close');
      expect(agent.stdout()).toContain('"msg":"agent stopped"');

      // Every message of the MQTT tag is in the raw history: the reloads never interrupted it.
      const store = await openAgentStore({ dir: join(dir, 'state', 'store'), quotaBytes: 1e9, historyHours: 24, log: silentLogger() });
      try {
        const values = new Set(store.history.read('steady', startedAt - 1000, Date.now() + 1000).values);
        const missing = Array.from({ length: last }, (_, i) => i + 1).filter((n) => !values.has(n));
        expect(last).toBeGreaterThan(200);
        expect(missing).toEqual([]);
        expect(store.history.read('pump1.temperature', startedAt - 1000, Date.now() + 1000).values.length).toBeGreaterThan(5);
      } finally {
        await store.close();
      }
    } finally {
      watching = false;
      await watcher;
      clearInterval(timer);
      await publisher.endAsync();
      agent.child.kill('SIGKILL');
    }
  }, 60_000);
});
