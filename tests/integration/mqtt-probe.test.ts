import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/logger.js';
import { probeMqttSource } from '../../agent/sources/mqtt/probe-mqtt.js';
import { mqttSource, mqttTag, uniqueId, useMosquitto } from '../helpers/mqtt-harness.js';

const mosquitto = useMosquitto();

describe('vigil check --connect for MQTT', () => {
  it('reports per tag line: traffic with the last value, silence, malformed payloads, bad config', async () => {
    const p = uniqueId('probe');
    const tags = [
      mqttTag({ name: 'line1.pump{3}.temp', topic: `${p}/line1/pump/+/temp`, format: 'json' }),
      mqttTag({ name: 'quiet', topic: `${p}/nothing/here`, format: 'number' }),
      mqttTag({ name: 'broken', topic: `${p}/broken`, format: 'number' }),
      mqttTag({ name: 'x.{name}', topic: `${p}/nameless`, format: 'json' }),
    ];
    const publishing = setInterval(() => {
      void mosquitto.pub.publishAsync(`${p}/line1/pump/1/temp`, '{"value": 42.1}', { qos: 0 });
      void mosquitto.pub.publishAsync(`${p}/broken`, 'n/a', { qos: 0 });
    }, 100);
    try {
      const results = await probeMqttSource(mqttSource({ url: mosquitto.url }), tags, { agentId: 'gw-test', log: silentLogger(), listenMs: 800 });
      expect(results.map((r) => [r.tag, r.status])).toEqual([
        ['line1.pump{3}.temp', 'ok'],
        ['quiet', 'warn'],
        ['broken', 'fail'],
        ['x.{name}', 'fail'],
      ]);
      expect(results[0]!.detail).toMatch(new RegExp(`^\\d+ messages, last 42\\.1 on ${p}/line1/pump/1/temp \\(line1\\.pump1\\.temp\\)$`));
      expect(results[1]!.detail).toBe('no traffic in 0.8 s');
      expect(results[2]!.detail).toMatch(/^\d+ payloads dropped: not_a_number$/);
      expect(results[3]!.detail).toMatch(/json\.name is not set/);
    } finally {
      clearInterval(publishing);
    }
  });

  it('fails every tag with the reason when the broker cannot be reached', async () => {
    const results = await probeMqttSource(mqttSource({ url: 'mqtt://127.0.0.1:9' }), [mqttTag({ name: 't', topic: 'a', format: 'number' })], { agentId: 'gw-test', log: silentLogger(), listenMs: 100 });
    expect(results).toEqual([{ tag: 't', source: 'broker1', status: 'fail', detail: expect.stringMatching(/^cannot connect: VIGIL_MQTT_CONNECT_FAILED: nothing listens at mqtt:\/\/127\.0\.0\.1:9/) }]);
  });
});
