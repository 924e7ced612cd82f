import { describe, expect, it } from 'vitest';
import { compareVersions } from '../../agent/models/compare-versions.js';
import { ModelRegistry, type ModelEvent } from '../../agent/models/model-registry.js';

const M = 'pump-pca';

/**
 * A scorer driven the way the agent drives the registry: per batch, ask who
 * scores at the boundary, score every window of the batch with those versions.
 * A fault reported for a batch re-scores it with whoever took over.
 */
function simulate(registry: ModelRegistry) {
  const scoredBy = new Map<number, string[]>();
  const shadowBy = new Map<number, string[]>();
  let next = 0;
  const batch = (size: number, failing?: string) => {
    const windows = Array.from({ length: size }, () => next++);
    let scorers = registry.atWindowBoundary(M, windows[0]);
    if (failing !== undefined && scorers.active === `${M}@${failing}`) {
      scorers = registry.fault(M, failing, 'output contains NaN');
    }
    for (const w of windows) {
      if (scorers.active) scoredBy.set(w, [...(scoredBy.get(w) ?? []), scorers.active]);
      if (scorers.shadow) shadowBy.set(w, [...(shadowBy.get(w) ?? []), scorers.shadow]);
    }
    return windows;
  };
  return { scoredBy, shadowBy, batch, count: () => next };
}

function eventsOf(registry: ModelRegistry): ModelEvent[] {
  return registry.snapshot().find((m) => m.name === M)?.events ?? [];
}

describe('ModelRegistry hot swap', () => {
  it('switches versions exactly at a window boundary: every window scored once, by one version', () => {
    let clock = 1000;
    const heard: ModelEvent[] = [];
    const registry = new ModelRegistry({ now: () => clock++, onEvent: (e) => heard.push(e) });
    const sim = simulate(registry);

    expect(registry.offer({ name: M, version: '1.0.0' }, { mode: 'activate' }).result).toBe('activated');
    const first = [...sim.batch(3), ...sim.batch(2)];

    // 1.1.0 finishes loading while windows keep coming: it waits for the boundary.
    const staged = registry.offer({ name: M, version: '1.1.0' }, { mode: 'activate' });
    expect(staged).toEqual({ result: 'pending', released: [] });
    expect(registry.snapshot()[0]).toMatchObject({ active: '1.0.0', pending: '1.1.0' });
    const second = [...sim.batch(4), ...sim.batch(1)];

    for (const w of first) expect(sim.scoredBy.get(w)).toEqual([`${M}@1.0.0`]);
    for (const w of second) expect(sim.scoredBy.get(w)).toEqual([`${M}@1.1.0`]);
    expect(sim.scoredBy.size).toBe(sim.count());
    expect(registry.snapshot()[0]).toMatchObject({ state: 'scoring', active: '1.1.0', pending: null, previous: '1.0.0' });

    const activation = heard.find((e) => e.kind === 'activated' && e.version === '1.1.0');
    expect(activation).toMatchObject({ from: '1.0.0', windowStart: second[0] });
    expect(heard.map((e) => e.kind)).toEqual(['activated', 'staged', 'activated']);
  });

  it('releases the version that falls out of every slot, and keeps the previous one for rollback', () => {
    const registry = new ModelRegistry();
    registry.offer({ name: M, version: '1.0.0' }, { mode: 'activate' });
    registry.offer({ name: M, version: '1.1.0' }, { mode: 'activate' });
    expect(registry.atWindowBoundary(M).released).toEqual([]);
    registry.offer({ name: M, version: '1.2.0' }, { mode: 'activate' });
    // 1.1.0 becomes previous; 1.0.0 is no longer needed.
    expect(registry.atWindowBoundary(M)).toEqual({ active: `${M}@1.2.0`, released: [`${M}@1.0.0`] });
    expect(registry.referencedKeys()).toEqual(new Set([`${M}@1.2.0`, `${M}@1.1.0`]));
  });

  it('a newer pending version replaces an older pending one, which is released', () => {
    const registry = new ModelRegistry();
    registry.offer({ name: M, version: '1.0.0' }, { mode: 'activate' });
    registry.offer({ name: M, version: '1.1.0' }, { mode: 'activate' });
    expect(registry.offer({ name: M, version: '1.2.0' }, { mode: 'activate' })).toEqual({ result: 'pending', released: [`${M}@1.1.0`] });
    expect(registry.atWindowBoundary(M).active).toBe(`${M}@1.2.0`);
  });
});

describe('ModelRegistry version rules', () => {
  it('directory offers only upgrade; lower or equal versions are ignored with a reason', () => {
    const registry = new ModelRegistry();
    registry.offer({ name: M, version: '1.2.0' }, { mode: 'activate' });
    expect(registry.consider(M, '1.0.0', { mode: 'activate' })).toMatchObject({ action: 'ignore', reason: expect.stringContaining('not newer than the active version 1.2.0') });
    const lower = registry.offer({ name: M, version: '1.0.0' }, { mode: 'activate' });
    expect(lower).toMatchObject({ result: 'ignored', released: [`${M}@1.0.0`] });
    expect(registry.offer({ name: M, version: '1.2.0-rc.1' }, { mode: 'activate' }).result).toBe('ignored');
    expect(registry.snapshot()[0]?.active).toBe('1.2.0');
    expect(eventsOf(registry).filter((e) => e.kind === 'ignored')).toHaveLength(2);
  });

  it('the order files load in does not matter: the highest version ends up active', () => {
    for (const order of [['1.0.0', '1.10.0', '1.2.0'], ['1.10.0', '1.2.0', '1.0.0'], ['1.2.0', '1.0.0', '1.10.0']]) {
      const registry = new ModelRegistry();
      for (const v of order) registry.offer({ name: M, version: v }, { mode: 'activate' });
      expect(registry.atWindowBoundary(M).active).toBe(`${M}@1.10.0`);
    }
  });

  it('re-offering the active version is a no-op and does not release it', () => {
    const heard: ModelEvent[] = [];
    const registry = new ModelRegistry({ onEvent: (e) => heard.push(e) });
    registry.offer({ name: M, version: '1.0.0' }, { mode: 'activate' });
    expect(registry.consider(M, '1.0.0', { mode: 'activate' }).action).toBe('ignore');
    expect(registry.offer({ name: M, version: '1.0.0' }, { mode: 'activate' })).toMatchObject({ result: 'unchanged', released: [] });
    expect(heard).toHaveLength(1);
  });

  it('an explicit offer may activate a lower version, at the next boundary', () => {
    const registry = new ModelRegistry();
    registry.offer({ name: M, version: '2.0.0' }, { mode: 'activate' });
    expect(registry.offer({ name: M, version: '1.0.0' }, { mode: 'activate', explicit: true }).result).toBe('pending');
    expect(registry.snapshot()[0]?.active).toBe('2.0.0');
    expect(registry.atWindowBoundary(M).active).toBe(`${M}@1.0.0`);
  });

  it('orders semantic versions numerically, pre-releases before releases', () => {
    expect(compareVersions('1.10.0', '1.9.9')).toBeGreaterThan(0);
    expect(compareVersions('1.0.0-rc.1', '1.0.0')).toBeLessThan(0);
    expect(compareVersions('1.0.0-rc.2', '1.0.0-rc.10')).toBeLessThan(0);
    expect(compareVersions('1.0.0-alpha', '1.0.0-1')).toBeGreaterThan(0);
    expect(compareVersions('1.0.0+build.5', '1.0.0')).toBe(0);
  });
});

describe('ModelRegistry shadow', () => {
  it('a shadow version scores the same windows beside the active one, and can be promoted', () => {
    const registry = new ModelRegistry();
    const sim = simulate(registry);
    registry.offer({ name: M, version: '1.0.0' }, { mode: 'activate' });
    sim.batch(2);
    expect(registry.offer({ name: M, version: '2.0.0-rc.1' }, { mode: 'shadow' }).result).toBe('shadow');
    const compared = sim.batch(3);
    for (const w of compared) {
      expect(sim.scoredBy.get(w)).toEqual([`${M}@1.0.0`]);
      expect(sim.shadowBy.get(w)).toEqual([`${M}@2.0.0-rc.1`]);
    }
    expect(registry.snapshot()[0]).toMatchObject({ active: '1.0.0', shadow: '2.0.0-rc.1' });

    expect(registry.promoteShadow(M).result).toBe('pending');
    const after = sim.batch(2);
    for (const w of after) expect(sim.scoredBy.get(w)).toEqual([`${M}@2.0.0-rc.1`]);
    for (const w of after) expect(sim.shadowBy.get(w)).toBeUndefined();
    expect(sim.scoredBy.size).toBe(sim.count());
    expect(registry.snapshot()[0]).toMatchObject({ active: '2.0.0-rc.1', shadow: null, previous: '1.0.0' });
  });

  it('a new shadow replaces the old one, which is released; a faulting shadow stops without touching the active', () => {
    const registry = new ModelRegistry();
    registry.offer({ name: M, version: '1.0.0' }, { mode: 'activate' });
    registry.offer({ name: M, version: '1.1.0' }, { mode: 'shadow' });
    expect(registry.offer({ name: M, version: '1.2.0' }, { mode: 'shadow' }).released).toEqual([`${M}@1.1.0`]);
    expect(registry.fault(M, '1.2.0', 'threw: invalid dims')).toEqual({ active: `${M}@1.0.0`, released: [`${M}@1.2.0`] });
    expect(registry.snapshot()[0]).toMatchObject({ state: 'scoring', active: '1.0.0', shadow: null, lastFault: { version: '1.2.0' } });
  });
});

describe('ModelRegistry faults and rollback', () => {
  it('a fault rolls back to the previous version; the failed batch is scored again by it, so no window is lost', () => {
    const heard: ModelEvent[] = [];
    const registry = new ModelRegistry({ onEvent: (e) => heard.push(e) });
    const sim = simulate(registry);
    registry.offer({ name: M, version: '1.0.0' }, { mode: 'activate' });
    sim.batch(2);
    registry.offer({ name: M, version: '1.1.0' }, { mode: 'activate' });
    const failed = sim.batch(3, '1.1.0');
    for (const w of failed) expect(sim.scoredBy.get(w)).toEqual([`${M}@1.0.0`]);
    sim.batch(2);
    expect(sim.scoredBy.size).toBe(sim.count());

    const snap = registry.snapshot()[0];
    expect(snap).toMatchObject({ state: 'scoring', active: '1.0.0', previous: null, lastFault: { version: '1.1.0', reason: 'output contains NaN' } });
    expect(heard.map((e) => e.kind)).toEqual(['activated', 'staged', 'activated', 'fault', 'rolled_back']);
    expect(heard.at(-1)).toMatchObject({ version: '1.0.0', from: '1.1.0', reason: 'output contains NaN' });
    expect(registry.referencedKeys()).toEqual(new Set([`${M}@1.0.0`]));
  });

  it('a fault without a previous version stops the model and says why', () => {
    const registry = new ModelRegistry();
    registry.offer({ name: M, version: '1.0.0' }, { mode: 'activate' });
    expect(registry.fault(M, '1.0.0', 'output score has shape [1,3]')).toEqual({ released: [`${M}@1.0.0`] });
    expect(registry.atWindowBoundary(M)).toEqual({ released: [] });
    const snap = registry.snapshot()[0];
    expect(snap).toMatchObject({ state: 'stopped', stateText: 'stopped (fault: output score has shape [1,3])', active: null });
    expect(snap?.events.at(-1)).toMatchObject({ kind: 'stopped' });
  });

  it('a faulted version is not re-activated from the directory, but a fixed version is', () => {
    const registry = new ModelRegistry();
    registry.offer({ name: M, version: '1.0.0' }, { mode: 'activate' });
    registry.fault(M, '1.0.0', 'NaN');
    expect(registry.consider(M, '1.0.0', { mode: 'activate' })).toMatchObject({ action: 'ignore', reason: expect.stringContaining('failed while scoring earlier (NaN)') });
    expect(registry.offer({ name: M, version: '1.0.1' }, { mode: 'activate' }).result).toBe('activated');
    expect(registry.snapshot()[0]).toMatchObject({ state: 'scoring', stateText: 'scoring', active: '1.0.1' });
  });

  it('when the active version faults while a new one is pending, the pending one takes over at once', () => {
    const registry = new ModelRegistry();
    registry.offer({ name: M, version: '1.0.0' }, { mode: 'activate' });
    registry.offer({ name: M, version: '1.1.0' }, { mode: 'activate' });
    expect(registry.fault(M, '1.0.0', 'threw')).toEqual({ active: `${M}@1.1.0`, released: [`${M}@1.0.0`] });
    expect(registry.snapshot()[0]).toMatchObject({ active: '1.1.0', pending: null, previous: null });
  });

  it('an operator rollback takes effect at the next boundary and releases the version rolled away from', () => {
    const registry = new ModelRegistry();
    const sim = simulate(registry);
    registry.offer({ name: M, version: '1.0.0' }, { mode: 'activate' });
    registry.offer({ name: M, version: '1.1.0' }, { mode: 'activate' });
    const onNew = sim.batch(2);
    expect(registry.rollback(M).result).toBe('pending');
    expect(registry.atWindowBoundary(M)).toEqual({ active: `${M}@1.0.0`, released: [`${M}@1.1.0`] });
    for (const w of onNew) expect(sim.scoredBy.get(w)).toEqual([`${M}@1.1.0`]);
    expect(registry.snapshot()[0]).toMatchObject({ active: '1.0.0', previous: null });
    expect(eventsOf(registry).at(-1)).toMatchObject({ kind: 'rolled_back', version: '1.0.0', from: '1.1.0' });
    expect(registry.rollback(M)).toMatchObject({ result: 'ignored', reason: expect.stringContaining('no previous version') });
  });
});

describe('ModelRegistry refusals and snapshot', () => {
  it('a refusal is recorded with its reason and time; the active version keeps scoring', () => {
    let clock = 5000;
    const registry = new ModelRegistry({ now: () => clock });
    registry.offer({ name: M, version: '1.0.0' }, { mode: 'activate' });
    clock = 6000;
    registry.refused(M, '1.1.0', 'tags missing from the agent configuration: pump9.temp');
    expect(registry.atWindowBoundary(M).active).toBe(`${M}@1.0.0`);
    const snap = registry.snapshot()[0];
    expect(snap).toMatchObject({ state: 'scoring', active: '1.0.0', lastRefusal: { version: '1.1.0', reason: 'tags missing from the agent configuration: pump9.temp', at: 6000 } });
    expect(snap?.events.at(-1)?.message).toBe('pump-pca@1.1.0 refused: tags missing from the agent configuration: pump9.temp; 1.0.0 keeps scoring');
  });

  it('a model refused before any version was active shows no version', () => {
    const registry = new ModelRegistry();
    registry.refused('other', '0.1.0', 'damaged');
    expect(registry.snapshot()).toMatchObject([{ name: 'other', state: 'no version', stateText: 'no version', active: null }]);
  });

  it('keeps a bounded history of events per model', () => {
    const registry = new ModelRegistry({ historyLimit: 5 });
    for (let i = 0; i < 20; i++) registry.refused(M, `1.0.${i}`, 'bad');
    const events = eventsOf(registry);
    expect(events).toHaveLength(5);
    expect(events.at(-1)?.version).toBe('1.0.19');
  });

  it('unknown models have no scorers', () => {
    expect(new ModelRegistry().atWindowBoundary('nothing')).toEqual({ released: [] });
  });
});
