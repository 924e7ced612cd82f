import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttSource } from '../../agent/sources/mqtt/mqtt-source.js';
import { requireBroker } from '../helpers/broker.js';
import { collectingContext, mqttSource, mqttTag, publisher, uniqueId, waitFor } from '../helpers/mqtt-harness.js';

let url: string;
let pub: MqttClient;

beforeAll(async () => {
  url = await requireBroker();
  pub = await publisher(url);
});
afterAll(async () => {
  await pub?.endAsync();
});

describe('MQTT source: persistent session', () => {
  it('receives QoS 1 messages published while the agent was stopped, after it restarts', async () => {
    const p = uniqueId('sess');
    const agentId = uniqueId('agent');
    // The default client id vigil-<agent>-<source> is what binds the session across restarts.
    const config = mqttSource({ url, name: 'plantbroker', sessionExpirySeconds: 30 });
    const tags = [mqttTag({ source: 'plantbroker', name: 'line.{1}', topic: `${p}/+`, format: 'number' })];

    const first = collectingContext(agentId);
    const a = new MqttSource(config, tags, first.ctx);
    await a.start();
    await a.subscribed;
    await pub.publishAsync(`${p}/before`, '1', { qos: 1 });
    await waitFor(() => first.samples.length === 1, 'the first sample');
    await a.stop();
    expect(a.health().connected).toBe(false);

    for (let i = 0; i < 5; i++) await pub.publishAsync(`${p}/while${i}`, String(100 + i), { qos: 1 });

    const second = collectingContext(agentId);
    const b = new MqttSource(config, tags, second.ctx);
    try {
      await b.start();
      await waitFor(() => second.samples.length === 5, 'the 5 messages queued by the broker');
      expect(second.samples.map((s) => [s.tag, s.value])).toEqual([0, 1, 2, 3, 4].map((i) => [`line.while${i}`, 100 + i]));
      expect(b.health().state).toContain('session resumed');
    } finally {
      // Leave no day-long session behind on the shared broker.
      await b.stop();
      const cleaner = await (await import('mqtt')).default.connectAsync(url, { clientId: `vigil-${agentId}-plantbroker`, clean: true, protocolVersion: 5, properties: { sessionExpiryInterval: 0 } });
      await cleaner.endAsync();
    }
  });
});
