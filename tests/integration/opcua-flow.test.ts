import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpcuaPlant, type OpcuaPlant } from '../../agent/demo/opcua-plant.js';
import { OpcuaSource } from '../../agent/sources/opcua/opcua-source.js';
import { opcuaSource, opcuaTag, recordingContext, tempDir, waitFor } from '../helpers/opcua-server.js';

const NSU = 'nsu=urn:vigil:demo:pumps';

describe('OPC UA source: tags flow from the simulated plant', () => {
  let plant: OpcuaPlant;
  const dir = tempDir('vigil-opcua-flow-');

  beforeAll(async () => {
    plant = await startOpcuaPlant({ port: 0, pumps: 2, updateIntervalMs: 100 });
  });
  afterAll(async () => {
    await plant?.stop();
    dir.remove();
  });

  it('delivers numeric, Boolean and quality-mapped samples; bad nodes become tag errors while the rest flows', async () => {
    const ctx = recordingContext(dir.path);
    const tags = [
      opcuaTag('p1.temp', `${NSU};s=Pump1.Temperature`),
      opcuaTag('p2.pressure', `ns=${plant.namespaceIndex};s=Pump2.Pressure`),
      opcuaTag('p1.running', `${NSU};s=Pump1.Running`),
      opcuaTag('diag.uncertain', `${NSU};s=Diag.Uncertain`),
      opcuaTag('diag.bad', `${NSU};s=Diag.Bad`),
      opcuaTag('diag.counter', `${NSU};s=Diag.Counter`, { publishingIntervalMs: 300, deadband: { type: 'absolute', value: 0 } }),
      opcuaTag('diag.text', `${NSU};s=Diag.Text`),
      opcuaTag('missing.node', `${NSU};s=Pump9.Nope`),
      opcuaTag('missing.ns', 'nsu=urn:nobody:here;s=Pump1.Temperature'),
    ];
    const source = new OpcuaSource(opcuaSource({ endpoint: plant.endpoint, publishingIntervalMs: 100, maxItemsPerSubscription: 3 }), tags, ctx);
    const started = Date.now();
    await source.start();
    expect(Date.now() - started).toBeLessThan(500); // start does not wait for the connection
    try {
      const seen = (tag: string) => ctx.samples.filter((s) => s.tag === tag);
      await waitFor(
        // Running only reports when it changes, so its initial value is all we can count on.
        () => ['p1.temp', 'p2.pressure', 'diag.uncertain', 'diag.bad'].every((t) => seen(t).length >= 3) && seen('diag.counter').length >= 2 && seen('p1.running').length >= 1,
        10_000,
        'samples of every good tag',
      );
      expect(source.health().connected).toBe(true);

      const temps = seen('p1.temp');
      expect(temps.every((s) => s.quality === 'good' && s.value > 10 && s.value < 120)).toBe(true);
      expect(seen('p2.pressure').every((s) => s.quality === 'good' && s.value >= 0 && s.value < 10)).toBe(true);
      expect(seen('p1.running').every((s) => s.value === 0 || s.value === 1)).toBe(true);
      expect(seen('diag.uncertain').every((s) => s.quality === 'uncertain')).toBe(true);
      expect(seen('diag.bad').every((s) => s.quality === 'bad')).toBe(true);
      const counter = seen('diag.counter').map((s) => s.value);
      expect(counter.every((v) => Number.isInteger(v))).toBe(true);
      expect(counter[counter.length - 1]!).toBeGreaterThan(counter[0]!);
      // Source timestamps are used: recent, and not all equal to receipt time.
      expect(temps.every((s) => Math.abs(Date.now() - s.ts) < 15_000)).toBe(true);

      await waitFor(() => ctx.tagErrors.has('diag.text'), 5000, 'the String tag to be flagged');
      expect(ctx.tagErrors.get('diag.text')).toMatch(/String.*not a number/);
      expect(seen('diag.text')).toHaveLength(0);
      expect(ctx.tagErrors.get('missing.node')).toMatch(/BadNodeIdUnknown/);
      expect(ctx.tagErrors.get('missing.ns')).toMatch(/VIGIL_OPCUA_NAMESPACE_UNKNOWN.*urn:nobody:here/);

      const c = source.counters();
      expect(c.samples).toBe(ctx.samples.length);
      expect(c.dropped.not_a_number).toBeGreaterThanOrEqual(1);
      expect(c.errors.monitor).toBe(2);
      expect(c.gaps).toBe(0);
      expect(source.health().state).toMatch(/connected \(7\/9 tags monitored\)/);
    } finally {
      await source.stop();
    }
    expect(source.health().connected).toBe(false);
    const after = ctx.samples.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(ctx.samples.length).toBe(after); // nothing arrives after stop
  });
});
