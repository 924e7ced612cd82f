import sparkplug from 'sparkplug-payload';
import { describe, expect, it } from 'vitest';
import { uniqueId, waitFor, useMosquitto } from '../helpers/mqtt-harness.js';

const sp = sparkplug.get('spBv1.0')!;
const mosquitto = useMosquitto();

function send(topic: string, payload: Parameters<typeof sp.encodePayload>[0]) {
  return mosquitto.pub.publishAsync(topic, Buffer.from(sp.encodePayload(payload)), { qos: 1 });
}

describe('MQTT source: Sparkplug B', () => {
  it('resolves NDATA/DDATA metrics by the aliases of NBIRTH/DBIRTH, and marks tags bad on DDEATH and NDEATH', async () => {
    const group = uniqueId('g');
    const { source, samples } = await mosquitto.startSource([
      { name: 'edge1.{metric}', topic: `spBv1.0/${group}/+/edge1`, format: 'sparkplug', metric: '*' },
      { name: 'compressor1.pressure', topic: `spBv1.0/${group}/+/edge1/compressor1`, format: 'sparkplug', metric: 'Outlet/Pressure' },
    ]);
    const ts = 1_700_000_000_000;
    await send(`spBv1.0/${group}/NBIRTH/edge1`, {
      timestamp: ts, seq: 0,
      metrics: [
        { name: 'bdSeq', type: 'UInt64', value: 3 },
        { name: 'Node Control/Rebirth', type: 'Boolean', value: false },
        { name: 'Uptime', alias: 1, type: 'Int32', value: 10 },
        { name: 'Online', alias: 2, type: 'Boolean', value: true },
      ],
    });
    await send(`spBv1.0/${group}/DBIRTH/edge1/compressor1`, {
      timestamp: ts, seq: 1,
      metrics: [
        { name: 'Outlet/Pressure', alias: 10, type: 'Double', value: 7.5 },
        { name: 'Outlet/Temp', alias: 11, type: 'Float', value: 60 },
      ],
    });
    await send(`spBv1.0/${group}/NDATA/edge1`, { timestamp: ts + 1000, seq: 2, metrics: [{ alias: 1, type: 'Int32', value: 11, timestamp: ts + 900 }] });
    await send(`spBv1.0/${group}/DDATA/edge1/compressor1`, { timestamp: ts + 2000, seq: 3, metrics: [{ alias: 10, type: 'Double', value: 7.9 }, { alias: 11, type: 'Float', value: 61 }] });
    await waitFor(() => samples.length === 5, '5 samples');
    expect(samples).toEqual([
      { tag: 'edge1.Uptime', value: 10, ts, quality: 'good' },
      { tag: 'edge1.Online', value: 1, ts, quality: 'good' },
      { tag: 'compressor1.pressure', value: 7.5, ts, quality: 'good' },
      { tag: 'edge1.Uptime', value: 11, ts: ts + 900, quality: 'good' },
      { tag: 'compressor1.pressure', value: 7.9, ts: ts + 2000, quality: 'good' },
    ]);

    await send(`spBv1.0/${group}/DDEATH/edge1/compressor1`, { timestamp: ts + 3000, seq: 4 });
    await waitFor(() => samples.length === 6, 'the DDEATH sample');
    expect(samples[5]).toMatchObject({ tag: 'compressor1.pressure', quality: 'bad' });
    expect(samples[5]!.value).toBeNaN();

    // An NDEATH from an older session (another bdSeq) is ignored and counted…
    await send(`spBv1.0/${group}/NDEATH/edge1`, { timestamp: ts + 3500, metrics: [{ name: 'bdSeq', type: 'UInt64', value: 2 }] });
    // …the real one marks every tag of the node and its devices bad.
    await send(`spBv1.0/${group}/NDEATH/edge1`, { timestamp: ts + 4000, metrics: [{ name: 'bdSeq', type: 'UInt64', value: 3 }] });
    await waitFor(() => samples.length === 9, 'the NDEATH samples');
    const dead = samples.slice(6);
    expect(new Set(dead.map((s) => s.tag))).toEqual(new Set(['edge1.Uptime', 'edge1.Online', 'compressor1.pressure']));
    expect(dead.every((s) => s.quality === 'bad' && Number.isNaN(s.value))).toBe(true);
    expect(source.counters().dropped).toEqual({ stale_death: 1 });
    expect(source.counters().gaps).toBe(0);
  });

  it('counts a sequence gap and drops metrics whose alias no birth declared', async () => {
    const group = uniqueId('g');
    const { source, samples } = await mosquitto.startSource([{ name: 'n.{metric}', topic: `spBv1.0/${group}/+/edge9/#`, format: 'sparkplug', metric: '*' }]);
    await send(`spBv1.0/${group}/NBIRTH/edge9`, { seq: 0, metrics: [{ name: 'Flow', alias: 5, type: 'Double', value: 1 }] });
    await send(`spBv1.0/${group}/NDATA/edge9`, { seq: 1, metrics: [{ alias: 5, type: 'Double', value: 2 }] });
    // seq 2 and 3 were lost on the way.
    await send(`spBv1.0/${group}/NDATA/edge9`, { seq: 4, metrics: [{ alias: 5, type: 'Double', value: 5 }, { alias: 99, type: 'Double', value: 0 }] });
    await send(`spBv1.0/${group}/NDATA/edge9`, { seq: 5, metrics: [{ alias: 5, type: 'Double', value: 6 }] });
    await waitFor(() => samples.length === 4, '4 samples');
    expect(samples.map((s) => s.value)).toEqual([1, 2, 5, 6]);
    expect(source.counters().gaps).toBe(1);
    expect(source.counters().dropped).toEqual({ unknown_alias: 1 });
    expect(source.droppedByTopic().get(`spBv1.0/${group}/NDATA/edge9`)).toEqual({ unknown_alias: 1 });
  });
});
