import { describe, expect, it } from 'vitest';
import { MqttSource } from '../../agent/sources/mqtt/mqtt-source.js';
import { collectingContext, mqttSource, mqttTag, uniqueId, waitFor, useMosquitto } from '../helpers/mqtt-harness.js';

const mosquitto = useMosquitto();

describe('MQTT source: persistent session', () => {
  it('receives QoS 1 messages published while the agent was stopped, after it restarts', async () => {
    const p = uniqueId('sess');
    const agentId = uniqueId('agent');
    // The default client id vigil-<agent>-<source> is what binds the session across restarts.
    const config = mqttSource({ url: mosquitto.url, name: 'plantbroker', sessionExpirySeconds: 30 });
    const tags = [mqttTag({ source: 'plantbroker', name: 'line.{1}', topic: `${p}/+`, format: 'number' })];

    const first = collectingContext(agentId);
    const a = new MqttSource(config, tags, first.ctx);
    await a.start();
    await a.subscribed;
    await mosquitto.pub.publishAsync(`${p}/before`, '1', { qos: 1 });
    await waitFor(() => first.samples.length === 1, 'the first sample');
    await a.stop();
    expect(a.health().connected).toBe(false);

    for (let i = 0; i < 5; i++) await mosquitto.pub.publishAsync(`${p}/while${i}`, String(100 + i), { qos: 1 });

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
      const cleaner = await (await import('mqtt')).default.connectAsync(mosquitto.url, { clientId: `vigil-${agentId}-plantbroker`, clean: true, protocolVersion: 5, properties: { sessionExpiryInterval: 0 } });
      await cleaner.endAsync();
    }
  });
});
