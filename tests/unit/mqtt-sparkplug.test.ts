import { describe, expect, it } from 'vitest';
import { encodeSparkplug, parseSparkplugTopic, sparkplugMatchFilter, sparkplugSubscriptions, SparkplugTracker } from '../../agent/sources/mqtt/sparkplug.js';

const topic = (t: string) => parseSparkplugTopic(t.split('/'))!;

describe('Sparkplug topics and subscriptions', () => {
  it('parses node and device messages, ignores commands and STATE', () => {
    expect(topic('spBv1.0/g/NDATA/n')).toEqual({ group: 'g', type: 'NDATA', node: 'n', device: undefined });
    expect(topic('spBv1.0/g/DDATA/n/d')).toEqual({ group: 'g', type: 'DDATA', node: 'n', device: 'd' });
    expect(parseSparkplugTopic('spBv1.0/g/NCMD/n'.split('/'))).toBeUndefined();
    expect(parseSparkplugTopic('spBv1.0/STATE/host'.split('/'))).toBeUndefined();
    expect(parseSparkplugTopic('spBv1.0/g/NDATA/n/d'.split('/'))).toBeUndefined();
  });

  it('subscribes to the births, data and deaths a filter needs', () => {
    expect(sparkplugSubscriptions('spBv1.0/g/+/n')).toEqual(['spBv1.0/g/NBIRTH/n', 'spBv1.0/g/NDATA/n', 'spBv1.0/g/NDEATH/n']);
    expect(sparkplugSubscriptions('spBv1.0/g/+/n/d')).toEqual(['spBv1.0/g/NBIRTH/n', 'spBv1.0/g/NDEATH/n', 'spBv1.0/g/DBIRTH/n/d', 'spBv1.0/g/DDATA/n/d', 'spBv1.0/g/DDEATH/n/d']);
    expect(sparkplugSubscriptions('spBv1.0/g/+/n/#')).toEqual(['spBv1.0/g/NBIRTH/n', 'spBv1.0/g/NDATA/n', 'spBv1.0/g/NDEATH/n', 'spBv1.0/g/DBIRTH/n/+', 'spBv1.0/g/DDATA/n/+', 'spBv1.0/g/DDEATH/n/+']);
    expect(sparkplugSubscriptions('spBv1.0/#')).toContain('spBv1.0/+/DDATA/+/+');
    expect(() => sparkplugSubscriptions('plant/x')).toThrow(/must start with spBv1\.0/);
    expect(sparkplugMatchFilter('spBv1.0/g/DDATA/n/d')).toBe('spBv1.0/g/+/n/d');
  });
});

describe('SparkplugTracker', () => {
  it('follows seq across the 255 → 0 wrap and counts a jump as a gap', () => {
    const t = new SparkplugTracker();
    const send = (type: string, seq: number) => t.handle(topic(`spBv1.0/g/${type}/n`), encodeSparkplug({ seq, metrics: [{ name: 'm', type: 'Double', value: seq }] }), 0);
    expect(send('NBIRTH', 0).gap).toBe(false);
    let gaps = 0;
    for (let s = 1; s <= 300; s++) if (send('NDATA', s & 0xff).gap) gaps++;
    expect(gaps).toBe(0);
    expect(send('NDATA', 50).gap).toBe(true);
    expect(send('NDATA', 51).gap).toBe(false);
  });

  it('asks for a rebirth when data comes from a node whose birth it has not seen', () => {
    const t = new SparkplugTracker();
    const r = t.handle(topic('spBv1.0/g/DDATA/n/d'), encodeSparkplug({ seq: 7, metrics: [{ alias: 3, type: 'Double', value: 1 }] }), 0);
    expect(r).toMatchObject({ needsRebirth: true, dropped: { unknown_alias: 1 }, metrics: [] });
  });

  it('turns null metrics into bad samples and non-numeric ones into drops', () => {
    const t = new SparkplugTracker();
    const r = t.handle(topic('spBv1.0/g/NBIRTH/n'), encodeSparkplug({ timestamp: 1000, seq: 0, metrics: [
      { name: 'a', type: 'Double', value: null },
      { name: 'b', type: 'String', value: 'running' },
      { name: 'c', type: 'Int64', value: 12, timestamp: 2000 },
      { name: 'd', type: 'Bytes', value: new Uint8Array([1]) },
    ] }), 0);
    expect(r.metrics).toEqual([
      { name: 'a', value: Number.NaN, ts: 1000, quality: 'bad' },
      { name: 'c', value: 12, ts: 2000, quality: 'good' },
    ]);
    expect(r.dropped).toEqual({ not_a_number: 2 });
  });

  it('reports undecodable bytes as malformed', () => {
    expect(new SparkplugTracker().handle(topic('spBv1.0/g/NDATA/n'), Buffer.from('not protobuf'), 0).malformed).toBe('invalid_sparkplug');
  });
});
