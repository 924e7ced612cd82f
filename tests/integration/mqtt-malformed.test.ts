import { describe, expect, it } from 'vitest';
import { MqttSource } from '../../agent/sources/mqtt/mqtt-source.js';
import { collectingContext, mqttSource, mqttTag, uniqueId, waitFor, useMosquitto } from '../helpers/mqtt-harness.js';

const mosquitto = useMosquitto();

describe('MQTT source: malformed payloads', () => {
  it('drops and counts each malformed payload per topic and reason, reports the tag, and keeps running', async () => {
    const p = uniqueId('bad');
    const group = uniqueId('g');
    const { ctx, samples, tagErrors } = collectingContext();
    const source = new MqttSource(
      mqttSource({ url: mosquitto.url, clientId: uniqueId('c'), sessionExpirySeconds: 5 }),
      [
        mqttTag({ name: 'j.{2}', topic: `${p}/json/+`, format: 'json' }),
        mqttTag({ name: 'n', topic: `${p}/num`, format: 'number' }),
        mqttTag({ name: 'sp.{metric}', topic: `spBv1.0/${group}/+/edge1`, format: 'sparkplug', metric: '*' }),
      ],
      ctx,
      { maxPayloadBytes: 64 * 1024 },
    );
    await source.start();
    try {
      await source.subscribed;
      const sends: Array<[string, string | Buffer]> = [
        [`${p}/json/a`, '{"value": 1'],
        [`${p}/json/a`, '{"value": "high"}'],
        [`${p}/json/a`, '{"value": {"nested": 1}}'],
        [`${p}/json/b`, '{"temp": 3}'],
        [`${p}/json/b`, '[{"value": 1}, {"value": null}, 7]'],
        [`${p}/json/b`, JSON.stringify({ value: 'x'.repeat(100 * 1024) })],
        [`${p}/json/b`, Buffer.from([0xff, 0xfe, 0x00, 0x7b])],
        [`${p}/num`, 'NaN'],
        [`${p}/num`, ''],
        [`${p}/num`, '0x1f'],
        [`spBv1.0/${group}/NDATA/edge1`, 'this is not protobuf'],
        // After all that garbage, good data still flows.
        [`${p}/json/a`, '{"value": 5}'],
        [`${p}/num`, '6'],
      ];
      for (const [topic, payload] of sends) await mosquitto.pub.publishAsync(topic, payload, { qos: 1 });
      await waitFor(() => source.counters().messages === sends.length, 'all messages');
      expect(samples.map((s) => [s.tag, s.value])).toEqual([['j.b', 1], ['j.a', 5], ['n', 6]]);
      expect(source.counters().dropped).toEqual({
        malformed_json: 2,
        not_a_number: 6,
        missing_value: 1,
        not_an_object: 1,
        payload_too_large: 1,
        invalid_sparkplug: 1,
      });
      const byTopic = source.droppedByTopic();
      expect(byTopic.get(`${p}/json/a`)).toEqual({ malformed_json: 1, not_a_number: 2 });
      expect(byTopic.get(`${p}/json/b`)).toEqual({ missing_value: 1, not_a_number: 1, not_an_object: 1, payload_too_large: 1, malformed_json: 1 });
      expect(byTopic.get(`${p}/num`)).toEqual({ not_a_number: 3 });
      expect(byTopic.get(`spBv1.0/${group}/NDATA/edge1`)).toEqual({ invalid_sparkplug: 1 });
      // The JSON tag recovered (cleared by the later good sample); the number tag too.
      expect(tagErrors.get('j.{2}')).toBeUndefined();
      expect(tagErrors.get('sp.{metric}')).toMatch(/invalid sparkplug on spBv1\.0/);
      expect(tagErrors.has('j.{2}')).toBe(true);
      expect(source.health().connected).toBe(true);
    } finally {
      await source.stop();
    }
  });

  it('bounds the per-topic drop table, counting further topics under _other', async () => {
    const p = uniqueId('many');
    const { ctx } = collectingContext();
    const source = new MqttSource(mqttSource({ url: mosquitto.url, clientId: uniqueId('c'), sessionExpirySeconds: 5 }), [mqttTag({ name: 'x.{1}', topic: `${p}/+`, format: 'number' })], ctx, { maxDropTopics: 3 });
    await source.start();
    try {
      await source.subscribed;
      for (let i = 0; i < 6; i++) await mosquitto.pub.publishAsync(`${p}/t${i}`, 'garbage', { qos: 1 });
      await waitFor(() => source.counters().messages === 6, 'all messages');
      const byTopic = source.droppedByTopic();
      expect(byTopic.size).toBe(4);
      expect(byTopic.get('_other')).toEqual({ not_a_number: 3 });
      expect(source.counters().dropped).toEqual({ not_a_number: 6 });
    } finally {
      await source.stop();
    }
  });
});
