import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startOpcuaPlant, type OpcuaPlant } from '../../agent/demo/opcua-plant.js';
import { OpcuaSource } from '../../agent/sources/opcua/opcua-source.js';
import { opcuaSource, opcuaTag, recordingContext, startFreezableProxy, tempDir, waitFor, type FreezableProxy } from '../helpers/opcua-server.js';

const NSU = 'nsu=urn:vigil:demo:pumps';
const fast = { publishingIntervalMs: 100, connectTimeoutMs: 1500, reconnect: { initialDelayMs: 200, maxDelayMs: 800 } };

describe('OPC UA source recovery', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const track = <T extends { stop(): Promise<void> } | FreezableProxy>(x: T): T => {
    cleanups.push(() => ('close' in x ? x.close() : x.stop()));
    return x;
  };

  it('keeps tags flowing across a server restart that renumbers namespaces, and records the gap', async () => {
    const dir = tempDir('vigil-opcua-restart-');
    cleanups.push(dir.remove);
    const serverPki = `${dir.path}/server-pki`;
    const port = await freePort();
    let plant: OpcuaPlant = await startOpcuaPlant({ port, pumps: 1, updateIntervalMs: 100, pkiDir: serverPki });
    cleanups.push(() => plant.stop());
    expect(plant.namespaceIndex).toBe(2);

    const ctx = recordingContext(dir.path);
    const tags = [
      opcuaTag('p1.temp', `${NSU};s=Pump1.Temperature`),
      opcuaTag('counter', `${NSU};s=Diag.Counter`),
      // Written with today's index: works before the restart, not after. This is why nsu= is preferred.
      opcuaTag('counter.by.index', `ns=2;s=Diag.Counter`),
    ];
    const source = track(new OpcuaSource(opcuaSource({ endpoint: plant.endpoint, ...fast }), tags, ctx));
    await source.start();
    const count = (tag: string) => ctx.samples.filter((s) => s.tag === tag && s.quality === 'good').length;
    await waitFor(() => count('counter') >= 3 && count('counter.by.index') >= 3 && count('p1.temp') >= 3, 10_000, 'samples before the restart');

    await plant.stop();
    await waitFor(() => source.counters().gaps === 1, 5000, 'the loss to be noticed');
    expect(source.health().connected).toBe(false);
    const gapMarks = ctx.samples.filter((s) => s.quality === 'bad' && Number.isNaN(s.value));
    expect(gapMarks.map((s) => s.tag).sort()).toEqual(['counter', 'counter.by.index', 'p1.temp']);

    plant = await startOpcuaPlant({ port, pumps: 1, updateIntervalMs: 100, pkiDir: serverPki, extraNamespacesFirst: ['urn:other:a', 'urn:other:b'] });
    expect(plant.namespaceIndex).toBe(4);
    const before = ctx.samples.length;
    await waitFor(() => source.counters().reconnects === 1, 10_000, 'the reconnection');
    await waitFor(() => ctx.samples.slice(before).filter((s) => s.tag === 'counter').length >= 3, 5000, 'counter samples after the restart');

    const after = ctx.samples.slice(before);
    const counters = after.filter((s) => s.tag === 'counter');
    // The new server's counter starts again from 1: these values come from the restarted server.
    expect(counters.every((s) => s.quality === 'good' && Number.isInteger(s.value) && s.value < 100)).toBe(true);
    expect(after.filter((s) => s.tag === 'p1.temp' && s.quality === 'good').length).toBeGreaterThan(0);
    expect(after.filter((s) => s.tag === 'counter.by.index')).toHaveLength(0);
    expect(ctx.tagErrors.get('counter.by.index')).toMatch(/BadNodeIdUnknown/);
    expect(source.health().connected).toBe(true);
    const c = source.counters();
    expect(c.gaps).toBe(1);
    expect(c.reconnects).toBe(1);
    expect(ctx.logs.some((l) => /reconnected after a gap of \d+ ms/.test(l.msg))).toBe(true);
  });

  it('rebuilds a session whose subscription went silent behind a frozen link', async () => {
    const dir = tempDir('vigil-opcua-stale-');
    cleanups.push(dir.remove);
    const plant = track(await startOpcuaPlant({ port: 0, pumps: 1, updateIntervalMs: 100 }));
    const proxy = track(await startFreezableProxy(plant.port));
    const ctx = recordingContext(dir.path);
    const staleTimeoutMs = 1200;
    const source = track(new OpcuaSource(opcuaSource({ endpoint: proxy.endpoint, ...fast, staleTimeoutMs }), [opcuaTag('counter', `${NSU};s=Diag.Counter`)], ctx));
    await source.start();
    await waitFor(() => ctx.samples.length >= 3, 10_000, 'samples through the proxy');

    proxy.freeze();
    const frozenAt = Date.now();
    await waitFor(() => (source.counters().errors.stale_subscription ?? 0) >= 1, staleTimeoutMs + 2000, 'the watchdog');
    expect(Date.now() - frozenAt).toBeGreaterThanOrEqual(staleTimeoutMs - 100);
    expect(source.counters().gaps).toBe(1);
    expect(ctx.logs.some((l) => String(l.msg).startsWith('VIGIL_OPCUA_STALE_SUBSCRIPTION'))).toBe(true);

    proxy.thaw();
    const before = ctx.samples.length;
    await waitFor(() => source.counters().reconnects >= 1 && ctx.samples.slice(before).some((s) => s.quality === 'good'), 10_000, 'data after the rebuild');
    expect(source.health().connected).toBe(true);
  });

  it('starts while the server is down, retries with backoff and connects when it comes up', async () => {
    const dir = tempDir('vigil-opcua-down-');
    cleanups.push(dir.remove);
    const port = await freePort();
    const ctx = recordingContext(dir.path);
    const source = track(new OpcuaSource(opcuaSource({ endpoint: `opc.tcp://127.0.0.1:${port}`, ...fast }), [opcuaTag('counter', `${NSU};s=Diag.Counter`)], ctx));
    const t0 = Date.now();
    await source.start();
    expect(Date.now() - t0).toBeLessThan(500);
    await waitFor(() => (source.counters().errors.connect ?? 0) >= 2, 5000, 'a couple of failed attempts');
    const h = source.health();
    expect(h.connected).toBe(false);
    expect(h.lastError).toMatch(/VIGIL_OPCUA_CONNECT_FAILED.*connection refused/);
    expect(h.state).toMatch(/attempt \d+, next in \d+ s/);

    track(await startOpcuaPlant({ port, pumps: 1, updateIntervalMs: 100 }));
    await waitFor(() => ctx.samples.length >= 2, 10_000, 'samples once the server is up');
    expect(source.health().connected).toBe(true);
    expect(source.counters().reconnects).toBe(0); // a first connection is not a reconnection
  });
});
