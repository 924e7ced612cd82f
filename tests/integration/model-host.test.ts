import { afterEach, describe, expect, it } from 'vitest';
import { deployPackage } from '../../agent/models/deploy-package.js';
import { ModelRegistry, type ModelEvent } from '../../agent/models/model-registry.js';
import { ModelHost } from '../../agent/scoring/model-host.js';
import { silentLogger } from '../../shared/logger.js';
import type { WindowResult } from '../../shared/window-result.js';
import { ONNX, PERIOD, TAGS, closeClients, pcaPackage, samplesFor, startClient, startedClients } from '../helpers/model-host-fixture.js';

const HOP = 10;

afterEach(closeClients);

async function setup() {
  const client = await startClient();
  const events: ModelEvent[] = [];
  const registry = new ModelRegistry({ onEvent: (e) => events.push(e) });
  const results: WindowResult[] = [];
  const host = new ModelHost(client, registry, { lateToleranceMs: 0, log: silentLogger(), onResults: (r) => results.push(...r), restartClient: startClient });
  const deploy = (bytes: Buffer, mode: 'activate' | 'shadow' = 'activate') =>
    deployPackage(bytes, 'test', { registry, loader: host, configuredTags: TAGS, log: silentLogger() }, { mode });
  /** Feeds cells [from, to) in chunks, letting the host score between them. */
  const feed = async (from: number, to: number, chunk = 25) => {
    for (let c = from; c < to; c += chunk) {
      host.consume(samplesFor(c, Math.min(to, c + chunk)));
      await host.idle();
    }
  };
  return { registry, host, results, events, deploy, feed, client };
}

/** The windows the active versions scored, in order, must tile time: each hop exactly once. */
function expectEveryWindowOnce(active: WindowResult[]) {
  const ends = active.map((r) => r.end);
  expect(new Set(ends).size).toBe(ends.length);
  for (let i = 1; i < ends.length; i++) expect(ends[i]! - ends[i - 1]!).toBe(HOP * PERIOD);
}

describe('ModelHost: windows → scoring worker → versions', () => {
  it('scores every due window once, with the results a plant user needs', async () => {
    const { results, deploy, feed, registry } = await setup();
    expect((await deploy(await pcaPackage('1.0.0'))).result).toBe('activated');
    await feed(0, 200);
    const scored = results.filter((r) => r.status === 'scored');
    // Windows of 60 cells every 10 from cell 0: ends at 60, 70, … ≤ 200 - tolerance.
    expect(scored.length).toBeGreaterThanOrEqual(13);
    expectEveryWindowOnce(results);
    for (const r of scored) {
      expect(r).toMatchObject({ model: 'pca4x60', version: '1.0.0', shadow: false, quality: { filledShare: 0, badShare: 0 } });
      expect(r.end - r.start).toBe(60 * PERIOD);
      expect(Number.isFinite(r.score)).toBe(true);
      expect(['normal', 'warn', 'alarm']).toContain(r.level);
      expect(Object.keys(r.contributions ?? {})).toEqual(TAGS);
    }
    expect(registry.snapshot()[0]).toMatchObject({ active: '1.0.0', state: 'scoring' });
  });

  it('hot-swaps a new version at a window boundary: no window lost or scored twice', async () => {
    const { results, deploy, feed, events } = await setup();
    await deploy(await pcaPackage('1.0.0'));
    await feed(0, 150);
    const before = results.length;
    expect((await deploy(await pcaPackage('1.1.0', { thresholds: { warn: 0.5, alarm: 1 } }))).result).toBe('pending');
    await feed(150, 300);
    const active = results.filter((r) => !r.shadow);
    expectEveryWindowOnce(active);
    const v1 = active.filter((r) => r.version === '1.0.0');
    const v2 = active.filter((r) => r.version === '1.1.0');
    expect(v1.length).toBe(before);
    expect(v2.length).toBeGreaterThan(10);
    // The hand-over is one boundary: every 1.0.0 window ends before every 1.1.0 window.
    expect(Math.max(...v1.map((r) => r.end))).toBeLessThan(Math.min(...v2.map((r) => r.end)));
    const activated = events.find((e) => e.kind === 'activated' && e.version === '1.1.0');
    expect(activated?.windowStart).toBe(v2[0]?.start);
  });

  it('shadow-scores the same windows beside the active version, marked as shadow', async () => {
    const { results, deploy, feed } = await setup();
    await deploy(await pcaPackage('1.0.0'));
    expect((await deploy(await pcaPackage('2.0.0-rc.1', { thresholds: { warn: 0.1, alarm: 0.2 } }), 'shadow')).result).toBe('shadow');
    await feed(0, 200);
    const active = results.filter((r) => !r.shadow);
    const shadow = results.filter((r) => r.shadow);
    expect(active.every((r) => r.version === '1.0.0')).toBe(true);
    expect(shadow.every((r) => r.version === '2.0.0-rc.1')).toBe(true);
    expect(shadow.map((r) => [r.start, r.end])).toEqual(active.map((r) => [r.start, r.end]));
    // Same ONNX, same windows: same scores, judged by each version's own thresholds.
    expect(shadow.map((r) => r.score)).toEqual(active.map((r) => r.score));
  });

  it('stops a version that fails at run time and returns to the previous one, rescoring the failed batch', async () => {
    const { results, deploy, feed, registry, host } = await setup();
    await deploy(await pcaPackage('1.0.0'));
    await feed(0, 120);
    // Tiny std: a zero window (the dry run) scores fine, real values overflow to Infinity.
    const broken = await pcaPackage('1.1.0', { normalization: { mean: [0, 0, 0, 0], std: [1e-30, 1e-30, 1e-30, 1e-30] } });
    expect((await deploy(broken)).result).toBe('pending');
    await feed(120, 260);
    const active = results.filter((r) => !r.shadow);
    expectEveryWindowOnce(active);
    expect(active.every((r) => r.version === '1.0.0' && r.status === 'scored')).toBe(true);
    const snapshot = registry.snapshot()[0]!;
    expect(snapshot).toMatchObject({ active: '1.0.0', state: 'scoring' });
    expect(snapshot.lastFault?.version).toBe('1.1.0');
    expect(snapshot.lastFault?.reason).toMatch(/VIGIL_MODEL_FAULT/);
    expect(snapshot.events.map((e) => e.kind)).toEqual(expect.arrayContaining(['fault', 'rolled_back']));
    expect(host.versionStats().find((s) => s.key === 'pca4x60@1.1.0')?.faults).toBe(1);
  });

  it('keeps scoring with the active version when a damaged package arrives', async () => {
    const { results, deploy, feed, registry } = await setup();
    await deploy(await pcaPackage('1.0.0'));
    const damaged = await pcaPackage('1.2.0');
    // Flip a byte inside the ONNX bytes: the checksum no longer matches.
    const at = damaged.indexOf(ONNX.subarray(200, 216)) + 3;
    damaged[at] = (damaged[at] ?? 0) ^ 0xff;
    const outcome = await deploy(damaged);
    expect(outcome).toMatchObject({ result: 'refused', reason: expect.stringMatching(/VIGIL_MODEL_CHECKSUM_MISMATCH/) });
    await feed(0, 150);
    expect(results.length).toBeGreaterThan(0);
    expect(results.every((r) => r.version === '1.0.0')).toBe(true);
    expect(registry.snapshot()[0]?.active).toBe('1.0.0');
  });

  it('restarts a scoring worker that died, reloads the versions still in use and rescores the batch', async () => {
    const { results, deploy, feed, registry, client } = await setup();
    await deploy(await pcaPackage('1.0.0'));
    await deploy(await pcaPackage('1.1.0'));
    await feed(0, 120);
    expect(registry.snapshot()[0]).toMatchObject({ active: '1.1.0', previous: '1.0.0' });
    client.simulateWorkerExit(1);
    await feed(120, 260);
    const active = results.filter((r) => !r.shadow);
    expectEveryWindowOnce(active);
    expect(startedClients()).toBe(2);
    // The version that was scoring when the thread died is stopped; the previous one carries on in the new worker.
    expect(registry.snapshot()[0]).toMatchObject({ active: '1.0.0', state: 'scoring' });
    expect(active.at(-1)?.version).toBe('1.0.0');
    expect(active.filter((r) => r.version === '1.0.0' && r.end > 130_000).length).toBeGreaterThan(5);
  });
});
