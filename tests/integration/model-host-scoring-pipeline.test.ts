import { afterEach, describe, expect, it } from 'vitest';
import { deployPackage } from '../../agent/models/deploy-package.js';
import { ModelRegistry, type ModelEvent } from '../../agent/models/model-registry.js';
import { ModelHost, RUNS_PER_TAKE } from '../../agent/scoring/model-host.js';
import { silentLogger } from '../../shared/logger.js';
import type { WindowResult } from '../../shared/window-result.js';
import { PERIOD, TAGS, closeClients, pcaPackage, samplesFor, startClient, startedClients } from '../helpers/model-host-fixture.js';

/**
 * ModelHost with a backlog (many batches due at once, as after a replay or a
 * stall): batches are pipelined, two in flight, and hot swap, faults and a
 * dying worker still score every window exactly once, in order.
 */

const HOP = 10;
/** Windows per run: small, so a backlog is many batches (of RUNS_PER_TAKE runs each). */
const MAX_BATCH = 2;
const WINDOWS_PER_TAKE = RUNS_PER_TAKE * MAX_BATCH;
type Step = { kind: 'submit'; key: string } | { kind: 'results'; key: string; count: number };

afterEach(closeClients);

async function setup() {
  const client = await startClient();
  const events: ModelEvent[] = [];
  const registry = new ModelRegistry({ onEvent: (e) => events.push(e) });
  const results: WindowResult[] = [];
  const steps: Step[] = [];
  // A spy on the real client: records when each batch is handed to the worker.
  const score = client.score.bind(client);
  let afterSubmit: ((n: number) => void) | undefined;
  client.score = (key, input, count) => {
    steps.push({ kind: 'submit', key });
    const reply = score(key, input, count);
    afterSubmit?.(steps.filter((s) => s.kind === 'submit').length);
    return reply;
  };
  const host = new ModelHost(client, registry, {
    lateToleranceMs: 0,
    maxBatch: MAX_BATCH,
    log: silentLogger(),
    onResults: (r) => {
      steps.push({ kind: 'results', key: `${r[0]?.model}@${r[0]?.version}`, count: r.length });
      results.push(...r);
    },
    restartClient: startClient,
  });
  const deploy = (bytes: Buffer) => deployPackage(bytes, 'test', { registry, loader: host, configuredTags: TAGS, log: silentLogger() }, { mode: 'activate' });
  /** All cells [from, to) at once: every window among them is due together. */
  const backlog = async (from: number, to: number) => {
    host.consume(samplesFor(from, to));
    await host.idle();
  };
  const onSubmit = (f: (n: number) => void) => (afterSubmit = f);
  return { registry, host, results, events, steps, deploy, backlog, onSubmit, client };
}

function expectEveryWindowOnceInOrder(active: WindowResult[]) {
  const ends = active.map((r) => r.end);
  expect(new Set(ends).size).toBe(ends.length);
  for (let i = 1; i < ends.length; i++) expect(ends[i]! - ends[i - 1]!).toBe(HOP * PERIOD);
}

describe('ModelHost scoring pipeline: a backlog of due windows', () => {
  it('keeps two batches in flight, never more, and delivers results in window order', async () => {
    const { results, steps, deploy, backlog } = await setup();
    await deploy(await pcaPackage('1.0.0'));
    await backlog(0, 600);
    // Cells 0..599, windows of 60 every 10: ends at 60 … 590 (the window ending at 600 is not closed yet).
    expect(results).toHaveLength(54);
    // A backlog goes to the worker RUNS_PER_TAKE runs' worth at a time.
    const takes = Array.from({ length: Math.ceil(54 / WINDOWS_PER_TAKE) }, (_, i) => Math.min(WINDOWS_PER_TAKE, 54 - i * WINDOWS_PER_TAKE));
    expect(steps.flatMap((s) => (s.kind === 'results' ? [s.count] : []))).toEqual(takes);
    expectEveryWindowOnceInOrder(results);
    expect(results.every((r) => r.status === 'scored' && r.version === '1.0.0')).toBe(true);
    let inFlight = 0;
    let most = 0;
    for (const s of steps) {
      inFlight += s.kind === 'submit' ? 1 : -1;
      most = Math.max(most, inFlight);
    }
    expect(inFlight).toBe(0);
    // The second batch went to the worker before the first one's results came back.
    expect(most).toBe(2);
    expect(steps.slice(0, 2).map((s) => s.kind)).toEqual(['submit', 'submit']);
  });

  it('hot-swaps in the middle of a backlog at one boundary: no window lost or scored twice', async () => {
    const { results, deploy, host, events } = await setup();
    await deploy(await pcaPackage('1.0.0'));
    const next = await pcaPackage('1.1.0');
    // Offered while batches of the backlog are queued in the worker: the load waits behind them.
    host.consume(samplesFor(0, 600));
    expect((await deploy(next)).result).toBe('pending');
    await host.idle();
    expectEveryWindowOnceInOrder(results);
    const v1 = results.filter((r) => r.version === '1.0.0');
    const v2 = results.filter((r) => r.version === '1.1.0');
    expect(v1.length).toBeGreaterThan(0);
    expect(v2.length).toBeGreaterThan(0);
    expect(Math.max(...v1.map((r) => r.end))).toBeLessThan(Math.min(...v2.map((r) => r.end)));
    expect(events.find((e) => e.kind === 'activated' && e.version === '1.1.0')?.windowStart).toBe(v2[0]?.start);
  });

  it('rescores the faulting batch and the one queued behind it with the previous version, reporting one fault', async () => {
    const { results, steps, deploy, backlog, registry, host, events } = await setup();
    await deploy(await pcaPackage('1.0.0'));
    await backlog(0, 100);
    // Tiny std: the zero-window dry run passes, real values overflow to Infinity.
    const broken = await pcaPackage('1.1.0', { normalization: { mean: [0, 0, 0, 0], std: [1e-30, 1e-30, 1e-30, 1e-30] } });
    expect((await deploy(broken)).result).toBe('pending');
    await backlog(100, 600);
    expectEveryWindowOnceInOrder(results);
    expect(results.every((r) => r.version === '1.0.0' && r.status === 'scored' && !r.shadow)).toBe(true);
    // Both batches in flight went to the broken version; only the first fault is one.
    expect(steps.filter((s) => s.kind === 'submit' && s.key === 'pca4x60@1.1.0')).toHaveLength(2);
    expect(host.versionStats().find((s) => s.key === 'pca4x60@1.1.0')?.faults).toBe(1);
    expect(events.filter((e) => e.kind === 'fault')).toHaveLength(1);
    expect(registry.snapshot()[0]).toMatchObject({ active: '1.0.0', state: 'scoring' });
  });

  it('when the worker dies under a backlog, rescores what was queued in it on a new worker', async () => {
    const { results, deploy, backlog, registry, onSubmit, client } = await setup();
    await deploy(await pcaPackage('1.0.0'));
    await deploy(await pcaPackage('1.1.0'));
    await backlog(0, 100);
    expect(registry.snapshot()[0]).toMatchObject({ active: '1.1.0', previous: '1.0.0' });
    const before = results.length;
    // The thread exits right after the next batch, with another batch queued behind the exit.
    let armed = true;
    onSubmit(() => {
      if (!armed) return;
      armed = false;
      client.simulateWorkerExit(1);
    });
    await backlog(100, 600);
    expectEveryWindowOnceInOrder(results);
    expect(results.length).toBe(54);
    expect(startedClients()).toBe(2);
    expect(registry.snapshot()[0]).toMatchObject({ active: '1.0.0', state: 'scoring' });
    // The batch that reached the worker before the exit kept its 1.1.0 scores; everything after it was scored by 1.0.0.
    expect(results.slice(before).filter((r) => r.version === '1.1.0').length).toBe(WINDOWS_PER_TAKE);
    expect(results.at(-1)?.version).toBe('1.0.0');
  });
});

describe('ModelHost window precision', () => {
  // Not representable in float32: scaling a float32-rounded value gives another float32 input than scaling the value.
  const scaled = { normalization: { mean: [0.1234567, -0.2345678, 0.3456789, -0.4567891], std: [0.7654321, 1.2345679, 0.8765432, 1.1111111] } };

  it('cuts windows in float64 as soon as a version that scales shares them, so its scores are those it gets alone', async () => {
    // Alone: windows cut in float64 from the start.
    const alone = await setup();
    await alone.deploy(await pcaPackage('1.1.0', scaled));
    await alone.backlog(0, 600);
    const want = new Map(alone.results.map((r) => [r.start, r.score]));

    // Beside an unscaled float32 version, which had its windows cut in float32 until the scaling version loaded.
    const shared = await setup();
    await shared.deploy(await pcaPackage('1.0.0'));
    await shared.backlog(0, 200);
    await shared.deploy(await pcaPackage('1.1.0', scaled));
    await shared.backlog(200, 600);
    const after = shared.results.filter((r) => r.version === '1.1.0');
    expect(after.length).toBeGreaterThan(30);
    for (const r of after) expect(r.score, `window at ${r.start}`).toBe(want.get(r.start));
    // The windows scored by 1.0.0 were cut in float32: the same scores as cut in float64, as its input is float32 either way.
    const unscaled = await setup();
    await unscaled.deploy(await pcaPackage('1.0.0'));
    await unscaled.backlog(0, 200);
    expect(shared.results.filter((r) => r.version === '1.0.0').map((r) => r.score)).toEqual(unscaled.results.map((r) => r.score));
  });
});
