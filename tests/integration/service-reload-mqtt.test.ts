import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAgentStore } from '../../agent/store/open-store.js';
import { silentLogger } from '../../shared/logger.js';
import { eventually, spawnVigil } from '../helpers/agent-process.js';
import { requireBroker } from '../helpers/broker.js';

/**
 * A reload that changes the tags of an MQTT source restarts that source (one
 * client id, one connection); the persistent session keeps what is published
 * meanwhile, so the unchanged tag of the same broker loses nothing.
 */
describe('configuration reload of an MQTT source (real agent process, Mosquitto)', () => {
  let brokerUrl: string;
  let dir: string;
  const prefix = `vigil-reload-mqtt-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    brokerUrl = await requireBroker();
    dir = mkdtempSync(join(tmpdir(), 'vigil-reload-mqtt-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('adds one tag and removes another while the third keeps every message', async () => {
    const tag = (name: string) => `  - { name: ${name}, source: broker, topic: "${prefix}/${name}", json: { value: v, timestamp: t } }`;
    const config = (tags: string[]) =>
      writeFileSync(
        join(dir, 'agent.yaml'),
        ['agent: { id: reload-mqtt-gw, dataDir: ./state }', 'http: { port: 0 }', 'sources:', `  - { name: broker, type: mqtt, url: "${brokerUrl}", clientId: "${prefix}" }`, 'tags:', ...tags.map(tag)].join('\n') + '\n',
      );
    config(['steady', 'leaving']);
    const startedAt = Date.now();
    const agent = spawnVigil(['agent', '--config', join(dir, 'agent.yaml')]);
    const publisher = await mqtt.connectAsync(brokerUrl, { clientId: `${prefix}-pub` });
    let seq = 0;
    const published: Array<Promise<unknown>> = [];
    let timer: NodeJS.Timeout | undefined;
    try {
      const url = String((await agent.waitForLog('agent running')).http);
      const tags = async () => new Map(((await (await fetch(`${url}/tags`)).json()) as { tags: Array<{ tag: string; value: number | null; samples: number }> }).tags.map((t) => [t.tag, t]));
      await eventually(async () => ((await tags()).get('steady') ? true : undefined), 'the agent to list its tags');
      timer = setInterval(() => {
        const t = Date.now();
        for (const name of ['steady', 'leaving', 'arriving']) published.push(publisher.publishAsync(`${prefix}/${name}`, JSON.stringify({ v: ++seq, t }), { qos: 1 }));
      }, 5);
      await eventually(async () => ((await tags()).get('leaving')?.samples ?? 0) > 20 || undefined, 'both tags to be live');

      config(['steady', 'arriving']);
      await agent.waitForLog('configuration reloaded: sources ~broker; tags +arriving -leaving');
      await eventually(async () => {
        const t = await tags();
        return (t.get('arriving')?.samples ?? 0) > 20 && !t.has('leaving') ? true : undefined;
      }, 'the added tag to be live and the removed one gone');
      await new Promise((r) => setTimeout(r, 300));
      clearInterval(timer);
      await Promise.all(published);
      const lastSteady = seq - 2;
      await eventually(async () => ((await tags()).get('steady')?.value === lastSteady ? true : undefined), `steady to reach ${lastSteady}`);

      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
      if (!agent.child.stdout.closed) await once(agent.child.stdout, 'close');
      expect(agent.stdout()).toContain('"msg":"agent stopped"');

      const store = await openAgentStore({ dir: join(dir, 'state', 'store'), quotaBytes: 1e9, historyHours: 24, log: silentLogger() });
      try {
        const values = new Set(store.history.read('steady', startedAt - 1000, Date.now() + 1000).values);
        const sent = Array.from({ length: lastSteady / 3 + 1 }, (_, i) => 3 * i + 1).filter((n) => n <= lastSteady);
        expect(sent.length).toBeGreaterThan(200);
        expect(sent.filter((n) => !values.has(n))).toEqual([]);
      } finally {
        await store.close();
      }
    } finally {
      clearInterval(timer);
      await publisher.endAsync();
      agent.child.kill('SIGKILL');
    }
  }, 60_000);
});
