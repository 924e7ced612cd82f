import { coerceNodeId } from 'node-opcua';
import { describe, expect, it } from 'vitest';
import { OpcuaTagSchema } from '../../agent/config/schema.js';
import { formatNsuNodeId, parseNodeId, resolveNodeId } from '../../agent/sources/opcua/node-id.js';
import { qualityOf } from '../../agent/sources/opcua/quality.js';
import { monitoringParameters, planSubscriptions, type ResolvedTag } from '../../agent/sources/opcua/subscriptions.js';
import { SubscriptionWatchdog } from '../../agent/sources/opcua/watchdog.js';

const ns = ['http://opcfoundation.org/UA/', 'urn:server', 'urn:plant:pumps'];

describe('OPC UA node ids', () => {
  it('resolves nsu= by URI against this session namespace array, and keeps ns= as written', () => {
    const id = parseNodeId('nsu=urn:plant:pumps;s=Pump1.Temp;x');
    expect(resolveNodeId(id, ns).toString()).toBe('ns=2;s=Pump1.Temp;x');
    expect(resolveNodeId(id, [...ns.slice(0, 2), 'urn:new', 'urn:plant:pumps']).toString()).toBe('ns=3;s=Pump1.Temp;x');
    expect(resolveNodeId(parseNodeId('ns=1;i=1042'), ns).toString()).toBe('ns=1;i=1042');
  });
  it('names the missing namespace and refuses malformed ids', () => {
    expect(() => resolveNodeId(parseNodeId('nsu=urn:nope;s=X'), ns)).toThrow(/VIGIL_OPCUA_NAMESPACE_UNKNOWN|no namespace "urn:nope"/);
    expect(() => parseNodeId('s=NoNamespace')).toThrow(/not a node id/);
  });
  it('formats browse results in the stable nsu= form', () => {
    expect(formatNsuNodeId(coerceNodeId('ns=2;s=Pump1.Temp'), ns)).toBe('nsu=urn:plant:pumps;s=Pump1.Temp');
    expect(formatNsuNodeId(coerceNodeId('ns=2;i=7'), ns)).toBe('nsu=urn:plant:pumps;i=7');
  });
});

describe('OPC UA status code → quality', () => {
  it('uses the severity bits only', () => {
    expect(qualityOf(0)).toBe('good');
    expect(qualityOf(0x00a80000)).toBe('good'); // GoodOverload-style info bits
    expect(qualityOf(0x408f0000)).toBe('uncertain'); // UncertainLastUsableValue-like
    expect(qualityOf(0x808a0000)).toBe('bad');
    expect(qualityOf(0xc0000000)).toBe('bad');
  });
});

describe('subscription planning', () => {
  const tag = (i: number, extra: object = {}): ResolvedTag => ({
    index: i,
    tag: OpcuaTagSchema.parse({ name: `t${i}`, source: 's', nodeId: `ns=2;i=${i}`, ...extra }),
    nodeId: coerceNodeId(`ns=2;i=${i}`),
  });
  it('groups by publishing interval and caps items per subscription', () => {
    const items = [...Array.from({ length: 5 }, (_, i) => tag(i)), tag(5, { publishingIntervalMs: 5000 })];
    const plans = planSubscriptions(items, 1000, 2);
    expect(plans.map((p) => [p.publishingIntervalMs, p.items.map((x) => x.index)])).toEqual([
      [1000, [0, 1]],
      [1000, [2, 3]],
      [1000, [4]],
      [5000, [5]],
    ]);
  });
  it('maps sampling, queue and deadband per tag', () => {
    const p = monitoringParameters(tag(1, { samplingIntervalMs: 250, queueSize: 4, deadband: { type: 'percent', value: 2 } }).tag, 1000);
    expect(p).toMatchObject({ samplingInterval: 250, queueSize: 4, discardOldest: true });
    expect(p.filter).toMatchObject({ deadbandType: 2, deadbandValue: 2 });
    expect(monitoringParameters(tag(2).tag, 1000)).toMatchObject({ samplingInterval: 1000, queueSize: 10 });
  });
});

describe('subscription watchdog', () => {
  it('fires once when a subscription is silent for longer than the limit, not while keep-alives arrive', () => {
    let now = 0;
    const fired: number[] = [];
    const w = new SubscriptionWatchdog(1000, (key) => fired.push(key), () => now);
    w.watch(0);
    w.watch(1);
    for (now = 0; now <= 3000; now += 100) {
      w.alive(0);
      if (now < 500) w.alive(1);
      w.check();
    }
    expect(fired).toEqual([1]);
    w.stop();
  });
});
