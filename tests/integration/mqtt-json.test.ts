import { describe, expect, it } from 'vitest';
import { uniqueId, waitFor, useMosquitto } from '../helpers/mqtt-harness.js';

const mosquitto = useMosquitto();

describe('MQTT source: JSON and plain-number payloads on Mosquitto', () => {
  it('reads a JSON object with dotted value, timestamp and quality paths', async () => {
    const p = uniqueId('json');
    const { source, samples } = await mosquitto.startSource([
      { name: 'pump1.temp', topic: `${p}/pump1/temp`, format: 'json', json: { value: 'data.v', timestamp: 'meta.ts', quality: 'meta.q' } },
    ]);
    await mosquitto.pub.publishAsync(`${p}/pump1/temp`, JSON.stringify({ data: { v: 41.5 }, meta: { ts: 1_700_000_000_000, q: 'uncertain' } }), { qos: 1 });
    await mosquitto.pub.publishAsync(`${p}/pump1/temp`, JSON.stringify({ data: { v: '42' }, meta: { ts: 1_700_000_001, q: 0x80000000 } }), { qos: 1 });
    await mosquitto.pub.publishAsync(`${p}/pump1/temp`, JSON.stringify({ data: { v: true }, meta: { ts: '2024-01-02T03:04:05Z', q: true } }), { qos: 1 });
    await waitFor(() => samples.length === 3, '3 samples');
    expect(samples).toEqual([
      { tag: 'pump1.temp', value: 41.5, ts: 1_700_000_000_000, quality: 'uncertain' },
      { tag: 'pump1.temp', value: 42, ts: 1_700_000_001_000, quality: 'bad' },
      { tag: 'pump1.temp', value: 1, ts: Date.parse('2024-01-02T03:04:05Z'), quality: 'good' },
    ]);
    expect(source.counters()).toMatchObject({ messages: 3, samples: 3, dropped: {} });
  });

  it('takes every element of a JSON array as one sample, with {name} from the payload', async () => {
    const p = uniqueId('arr');
    const { samples, source } = await mosquitto.startSource([
      { name: 'line1.{name}', topic: `${p}/batch`, format: 'json', json: { value: 'v', timestamp: 't', name: 'id' } },
    ]);
    const batch = Array.from({ length: 20 }, (_, i) => ({ id: `s${i % 4}`, v: i, t: 1_700_000_000 + i }));
    await mosquitto.pub.publishAsync(`${p}/batch`, JSON.stringify(batch), { qos: 1 });
    await waitFor(() => samples.length === 20, '20 samples');
    expect(samples[5]).toEqual({ tag: 'line1.s1', value: 5, ts: 1_700_000_005_000, quality: 'good' });
    expect(new Set(samples.map((s) => s.tag))).toEqual(new Set(['line1.s0', 'line1.s1', 'line1.s2', 'line1.s3']));
    expect(source.counters().messages).toBe(1);
  });

  it('reads plain-number payloads', async () => {
    const p = uniqueId('num');
    const { samples } = await mosquitto.startSource([{ name: 'tank1.level', topic: `${p}/tank/1/level`, format: 'number' }]);
    const before = Date.now();
    for (const text of ['12.5', ' -3 ', '1e3']) await mosquitto.pub.publishAsync(`${p}/tank/1/level`, text, { qos: 1 });
    await waitFor(() => samples.length === 3, '3 samples');
    expect(samples.map((s) => s.value)).toEqual([12.5, -3, 1000]);
    expect(samples.every((s) => s.quality === 'good' && s.ts >= before)).toBe(true);
  });

  it('maps + and # filters to many tag names through a template', async () => {
    const p = uniqueId('tpl');
    const { samples } = await mosquitto.startSource([
      { name: '{1}.pump{3}.temp', topic: `${p}/+/pump/+/temp`, format: 'number' },
      { name: 'raw.{2}.{3}', topic: `${p}/raw/#`, format: 'number' },
    ]);
    await mosquitto.pub.publishAsync(`${p}/lineA/pump/1/temp`, '10', { qos: 1 });
    await mosquitto.pub.publishAsync(`${p}/lineB/pump/7/temp`, '11', { qos: 1 });
    await mosquitto.pub.publishAsync(`${p}/lineB/pump/7/pressure`, '99', { qos: 1 });
    await mosquitto.pub.publishAsync(`${p}/raw/x/y`, '12', { qos: 1 });
    await mosquitto.pub.publishAsync(`${p}/raw/x/z/deeper`, '13', { qos: 1 });
    await waitFor(() => samples.length === 4, '4 samples');
    expect(samples.map((s) => [s.tag, s.value])).toEqual([
      ['lineA.pump1.temp', 10],
      ['lineB.pump7.temp', 11],
      ['raw.x.y', 12],
      ['raw.x.z', 13],
    ]);
  });
});
