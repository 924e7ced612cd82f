import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_MQTT_TAGS, startMqttPlant, type MqttPlant } from '../../agent/demo/mqtt-plant.js';
import { MqttSource } from '../../agent/sources/mqtt/mqtt-source.js';
import { collectingContext, mqttSource, mqttTag, waitFor } from '../helpers/mqtt-harness.js';

let plant: MqttPlant;
beforeAll(async () => {
  plant = await startMqttPlant({ port: 0, rateHz: 20 });
});
afterAll(async () => {
  await plant?.stop();
});

describe('simulated MQTT plant (vigil demo)', () => {
  it('feeds every demo tag line, including Sparkplug metrics after a rebirth request', async () => {
    const { ctx, samples } = collectingContext();
    const source = new MqttSource(mqttSource({ url: plant.url, name: 'plant' }), DEMO_MQTT_TAGS.map((t) => mqttTag({ ...t })), ctx);
    await source.start();
    try {
      const seen = () => new Set(samples.filter((s) => s.quality === 'good').map((s) => s.tag));
      // The agent connects after the births went out: it must ask for a rebirth to learn the aliases.
      await waitFor(() => seen().has('compressor1.Outlet/Pressure') && seen().has('line1.vibration.y') && seen().has('line1.tank2.level') && seen().has('line1.pump3.flow'), 'every kind of tag', 8000);
      const tags = seen();
      for (const tag of ['line1.pump1.temp', 'line1.pump2.pressure', 'line1.tank1.level', 'line1.vibration.x', 'compressor1.Outlet/Temperature', 'compressor1.Motor/Current']) expect(tags).toContain(tag);
      expect(tags).not.toContain('compressor1.bdSeq');
      const temp = samples.find((s) => s.tag === 'line1.pump1.temp')!;
      expect(temp.value).toBeGreaterThan(40);
      expect(temp.value).toBeLessThan(70);
      expect(source.counters().gaps).toBe(0);
      expect(Object.keys(source.counters().dropped).filter((r) => r !== 'unknown_alias')).toEqual([]);
    } finally {
      await source.stop();
    }
  });
});
