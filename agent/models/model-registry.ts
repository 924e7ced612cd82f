import { modelKey } from '../../shared/model-manifest.js';
import { compareVersions } from './compare-versions.js';

/**
 * Which version of each model scores, and what happened to the others — pure
 * state, no ONNX and no IO, so every rule below is unit-tested.
 *
 * Slots per model name:
 *   active    scores every window; its results are the model's results
 *   pending   loaded, checked and dry-run; takes over at the next window boundary
 *   shadow    a candidate scoring the same windows beside the active one (results marked shadow)
 *   previous  the version that was active before; kept loaded for rollback
 *
 * The scorer calls `atWindowBoundary(name)` once per batch of due windows and
 * scores the whole batch with the versions it returns. A pending switch happens
 * only inside that call, so every window is scored by exactly one active
 * version: none dropped, none scored twice.
 *
 * Version rules:
 * - Offers from the model directory (not `explicit`) only move forward: a
 *   version is staged when it is higher than the active one (and than any
 *   pending one); lower or equal ones are ignored with a reason. So a folder
 *   holding several versions of a model ends with the highest active, whatever
 *   order the files load in.
 * - `explicit` offers (an operator, or a hub deployment) may activate any
 *   version, including a lower one or one that faulted before.
 * - Re-offering a version that is already active, pending or shadow is a no-op.
 * - With no active version, an offered version becomes active at once: there is
 *   no running batch to split.
 * - A version that faults is stopped at once. If a pending version is waiting
 *   it takes over, else the previous one (rollback), else the model is stopped.
 *   A faulted version is not re-activated by the directory until a restart or
 *   an explicit offer.
 *
 * Every mutating call returns `released`: model keys (`name@version`) no slot
 * refers to any more, which the caller unloads from the scoring worker.
 */

export type OfferMode = 'activate' | 'shadow';

export interface OfferOptions {
  mode: OfferMode;
  /** Asked for by a person or the hub: may activate a lower or previously faulted version. Default false. */
  explicit?: boolean;
}

export type Consideration =
  | { action: 'load' }
  /** Already loaded in another slot (shadow or previous): offer it without loading again. */
  | { action: 'reuse' }
  | { action: 'ignore'; reason: string };

export interface OfferOutcome {
  result: 'activated' | 'pending' | 'shadow' | 'unchanged' | 'ignored';
  reason?: string;
  released: string[];
}

/** Who scores the next batch of a model's windows. */
export interface Scorers {
  active?: string;
  shadow?: string;
  released: string[];
}

export type ModelEventKind = 'activated' | 'staged' | 'shadow_started' | 'shadow_stopped' | 'refused' | 'ignored' | 'fault' | 'rolled_back' | 'stopped';

export interface ModelEvent {
  at: number;
  model: string;
  version: string;
  kind: ModelEventKind;
  /** One sentence for logs, /models and (later) the hub. */
  message: string;
  reason?: string;
  /** The version that was active before, for activations and rollbacks. */
  from?: string;
  /** Event time of the first window the new version scores, when the scorer said. */
  windowStart?: number;
}

export interface ModelSnapshot {
  name: string;
  state: 'scoring' | 'stopped' | 'no version';
  /** `scoring`, `stopped (fault: …)` or `no version`. */
  stateText: string;
  active: string | null;
  pending: string | null;
  shadow: string | null;
  previous: string | null;
  lastRefusal: { version: string; reason: string; at: number } | null;
  lastFault: { version: string; reason: string; at: number } | null;
  /** Most recent last. */
  events: ModelEvent[];
}

export interface ModelRegistryOptions {
  now?: () => number;
  /** Events kept per model for /models. Default 50. */
  historyLimit?: number;
  onEvent?: (event: ModelEvent) => void;
}

interface Slot {
  name: string;
  active?: string;
  pending?: string;
  /** The pending switch is a rollback: the version it replaces is released, not kept as previous. */
  pendingIsRollback?: boolean;
  shadow?: string;
  previous?: string;
  stopped?: { version: string; reason: string; at: number };
  lastRefusal?: { version: string; reason: string; at: number };
  lastFault?: { version: string; reason: string; at: number };
  faulted: Map<string, string>;
  events: ModelEvent[];
}

export class ModelRegistry {
  private readonly slots = new Map<string, Slot>();
  private readonly listeners: Array<(event: ModelEvent) => void> = [];
  private readonly now: () => number;
  private readonly historyLimit: number;
  private queued: ModelEvent[] = [];

  constructor(options: ModelRegistryOptions = {}) {
    this.now = options.now ?? Date.now;
    this.historyLimit = options.historyLimit ?? 50;
    if (options.onEvent) this.listeners.push(options.onEvent);
  }

  /** Listeners are called after the state has changed; they must not throw. Returns an unsubscribe function. */
  onEvent(listener: (event: ModelEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Whether an offer of this version would need a load; ask before loading to save the work. */
  consider(name: string, version: string, options: OfferOptions): Consideration {
    const slot = this.slots.get(name);
    if (!slot) return { action: 'load' };
    const explicit = options.explicit ?? false;
    if (options.mode === 'shadow') {
      if (version === slot.active || version === slot.pending) return { action: 'ignore', reason: `${version} is already ${version === slot.active ? 'active' : 'pending'}` };
      if (version === slot.shadow) return { action: 'ignore', reason: `${version} is already the shadow version` };
      return version === slot.previous ? { action: 'reuse' } : { action: 'load' };
    }
    if (version === slot.active) return { action: 'ignore', reason: `${version} is already active` };
    if (version === slot.pending) return { action: 'ignore', reason: `${version} is already waiting to take over` };
    const faultReason = slot.faulted.get(version);
    if (faultReason !== undefined && !explicit) {
      return { action: 'ignore', reason: `${version} failed while scoring earlier (${faultReason}); deploy a fixed version, or activate it explicitly to retry` };
    }
    if (!explicit && slot.active !== undefined) {
      const highest = slot.pending !== undefined && compareVersions(slot.pending, slot.active) > 0 ? slot.pending : slot.active;
      if (compareVersions(version, highest) <= 0) {
        return { action: 'ignore', reason: `${version} is not newer than ${highest === slot.active ? 'the active' : 'the pending'} version ${highest}; the model directory only upgrades (roll back with an explicit activation)` };
      }
    }
    return version === slot.shadow || version === slot.previous ? { action: 'reuse' } : { action: 'load' };
  }

  /** A version was loaded and passed every check: stage, activate or shadow it by the rules above. */
  offer(model: { name: string; version: string }, options: OfferOptions): OfferOutcome {
    const { name, version } = model;
    const slot = this.slot(name);
    const before = keysOf(slot);
    const outcome = this.applyOffer(slot, version, options);
    const released = releasedKeys(before, slot, [modelKey(model)]);
    this.flush();
    return { ...outcome, released };
  }

  private applyOffer(slot: Slot, version: string, options: OfferOptions): Omit<OfferOutcome, 'released'> {
    const decision = this.consider(slot.name, version, options);
    if (decision.action === 'ignore') {
      const unchanged = version === slot.active || version === slot.pending || (options.mode === 'shadow' && version === slot.shadow);
      if (unchanged) return { result: 'unchanged', reason: decision.reason };
      this.record(slot, { version, kind: 'ignored', reason: decision.reason, message: `${slot.name}@${version} not activated: ${decision.reason}` });
      return { result: 'ignored', reason: decision.reason };
    }
    // An explicit offer is a person's decision to try again: forget the earlier fault.
    if (options.explicit) slot.faulted.delete(version);
    if (options.mode === 'shadow') {
      const replaced = slot.shadow;
      slot.shadow = version;
      if (replaced) this.record(slot, { version: replaced, kind: 'shadow_stopped', message: `${slot.name}@${replaced} no longer scores in shadow: replaced by ${version}` });
      this.record(slot, { version, kind: 'shadow_started', message: `${slot.name}@${version} scores in shadow beside ${slot.active ?? 'no active version'}; its results are marked shadow` });
      return { result: 'shadow' };
    }
    if (slot.shadow === version) slot.shadow = undefined;
    if (slot.active === undefined) {
      this.activateNow(slot, version, 'activated', `${slot.name}@${version} active`);
      return { result: 'activated' };
    }
    slot.pending = version;
    slot.pendingIsRollback = version === slot.previous;
    this.record(slot, { version, kind: 'staged', from: slot.active, message: `${slot.name}@${version} loaded and checked; takes over from ${slot.active} at the next window boundary` });
    return { result: 'pending' };
  }

  /** A version was refused (damaged, checksum, disagreement, missing tags). Recorded; nothing else changes. */
  refused(name: string, version: string, reason: string): void {
    const slot = this.slot(name);
    slot.lastRefusal = { version, reason, at: this.now() };
    this.record(slot, { version, kind: 'refused', reason, message: `${name}@${version} refused: ${reason}${slot.active ? `; ${slot.active} keeps scoring` : ''}` });
    this.flush();
  }

  /**
   * Called by the scorer before each batch of due windows of a model: applies
   * a pending switch here and only here, and says who scores the batch.
   * `windowStart` (event time of the batch's first window) is recorded in the
   * activation event, so the hand-over point can be audited.
   */
  atWindowBoundary(name: string, windowStart?: number): Scorers {
    const slot = this.slots.get(name);
    if (!slot) return { released: [] };
    const before = keysOf(slot);
    const pending = slot.pending;
    if (pending !== undefined && slot.active !== undefined) {
      const from = slot.active;
      const rollback = slot.pendingIsRollback ?? false;
      if (rollback) {
        slot.previous = undefined;
      } else {
        slot.previous = from;
      }
      slot.active = pending;
      slot.pending = undefined;
      slot.pendingIsRollback = undefined;
      this.record(slot, {
        version: pending,
        kind: rollback ? 'rolled_back' : 'activated',
        from,
        ...(windowStart === undefined ? {} : { windowStart }),
        message: `${name}@${pending} ${rollback ? 'back in service' : 'active'} (was ${from})${windowStart === undefined ? '' : ` from the window starting ${new Date(windowStart).toISOString()}`}`,
      });
    }
    const released = releasedKeys(before, slot);
    this.flush();
    return { ...this.scorersOf(slot), released };
  }

  /**
   * A version failed while scoring (threw, NaN, wrong shape). It is stopped at
   * once; returns who scores now, so the caller can score the failed batch
   * again with the version that took over (and no window is lost).
   */
  fault(name: string, version: string, reason: string): Scorers {
    const slot = this.slot(name);
    const before = keysOf(slot);
    const at = this.now();
    slot.faulted.set(version, reason);
    slot.lastFault = { version, reason, at };
    const role = version === slot.active ? 'active' : version === slot.shadow ? 'shadow' : version === slot.pending ? 'pending' : version === slot.previous ? 'previous' : 'retired';
    this.record(slot, { version, kind: 'fault', reason, message: `${name}@${version} (${role}) failed while scoring: ${reason}; stopped` });
    if (version === slot.shadow) slot.shadow = undefined;
    if (version === slot.pending) {
      slot.pending = undefined;
      slot.pendingIsRollback = undefined;
    }
    if (version === slot.previous) slot.previous = undefined;
    if (version === slot.active) {
      slot.active = undefined;
      if (slot.pending !== undefined) {
        const next = slot.pending;
        const rollback = slot.pendingIsRollback ?? false;
        slot.pending = undefined;
        slot.pendingIsRollback = undefined;
        if (rollback) slot.previous = undefined;
        this.activateNow(slot, next, rollback ? 'rolled_back' : 'activated', `${name}@${next} took over early: ${version} failed`, version, reason);
      } else if (slot.previous !== undefined) {
        const next = slot.previous;
        slot.previous = undefined;
        this.activateNow(slot, next, 'rolled_back', `${name} rolled back to ${next} after ${version} failed`, version, reason);
      } else {
        slot.stopped = { version, reason, at };
        this.record(slot, { version, kind: 'stopped', reason, message: `${name} stopped: ${version} failed and there is no previous version to return to; deploy a fixed version` });
      }
    }
    const released = releasedKeys(before, slot);
    this.flush();
    return { ...this.scorersOf(slot), released };
  }

  /** The shadow version takes over at the next window boundary (at once when nothing is active). */
  promoteShadow(name: string): OfferOutcome {
    const shadow = this.slots.get(name)?.shadow;
    if (shadow === undefined) return { result: 'ignored', reason: `${name} has no shadow version to promote`, released: [] };
    return this.offer({ name, version: shadow }, { mode: 'activate', explicit: true });
  }

  /** The shadow version stops scoring (a rollback of its deployment); it is released. */
  stopShadow(name: string, reason: string): OfferOutcome {
    const slot = this.slots.get(name);
    const shadow = slot?.shadow;
    if (!slot || shadow === undefined) return { result: 'unchanged', reason: `${name} has no shadow version`, released: [] };
    const before = keysOf(slot);
    slot.shadow = undefined;
    this.record(slot, { version: shadow, kind: 'shadow_stopped', reason, message: `${name}@${shadow} no longer scores in shadow: ${reason}` });
    const released = releasedKeys(before, slot);
    this.flush();
    return { result: 'unchanged', released };
  }

  /** An operator's rollback: the previous version takes over at the next window boundary; the current one is released. */
  rollback(name: string): OfferOutcome {
    const previous = this.slots.get(name)?.previous;
    if (previous === undefined) return { result: 'ignored', reason: `${name} has no previous version to roll back to`, released: [] };
    return this.offer({ name, version: previous }, { mode: 'activate', explicit: true });
  }

  /** Every model key a slot refers to: the sessions the scoring worker must keep loaded. */
  referencedKeys(): Set<string> {
    const keys = new Set<string>();
    for (const slot of this.slots.values()) for (const key of keysOf(slot)) keys.add(key);
    return keys;
  }

  /** Data for the agent's /models endpoint, by model name. */
  snapshot(): ModelSnapshot[] {
    return [...this.slots.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((slot) => {
        const state = slot.active !== undefined ? 'scoring' : slot.stopped ? 'stopped' : 'no version';
        return {
          name: slot.name,
          state,
          stateText: state === 'stopped' && slot.stopped ? `stopped (fault: ${slot.stopped.reason})` : state,
          active: slot.active ?? null,
          pending: slot.pending ?? null,
          shadow: slot.shadow ?? null,
          previous: slot.previous ?? null,
          lastRefusal: slot.lastRefusal ? { ...slot.lastRefusal } : null,
          lastFault: slot.lastFault ? { ...slot.lastFault } : null,
          events: slot.events.map((e) => ({ ...e })),
        };
      });
  }

  private activateNow(slot: Slot, version: string, kind: 'activated' | 'rolled_back', message: string, from?: string, reason?: string): void {
    slot.active = version;
    if (slot.previous === version) slot.previous = undefined;
    slot.stopped = undefined;
    this.record(slot, { version, kind, message, ...(from ? { from } : {}), ...(reason ? { reason } : {}) });
  }

  private scorersOf(slot: Slot): Omit<Scorers, 'released'> {
    return {
      ...(slot.active !== undefined ? { active: modelKey({ name: slot.name, version: slot.active }) } : {}),
      ...(slot.shadow !== undefined ? { shadow: modelKey({ name: slot.name, version: slot.shadow }) } : {}),
    };
  }

  private slot(name: string): Slot {
    let slot = this.slots.get(name);
    if (!slot) {
      slot = { name, faulted: new Map(), events: [] };
      this.slots.set(name, slot);
    }
    return slot;
  }

  private record(slot: Slot, event: Omit<ModelEvent, 'at' | 'model'>): void {
    const full: ModelEvent = { at: this.now(), model: slot.name, ...event };
    slot.events.push(full);
    if (slot.events.length > this.historyLimit) slot.events.splice(0, slot.events.length - this.historyLimit);
    this.queued.push(full);
  }

  /** Listeners hear about events only once the state is consistent again. */
  private flush(): void {
    const events = this.queued;
    this.queued = [];
    for (const event of events) for (const listener of this.listeners) listener(event);
  }
}

function keysOf(slot: Slot): Set<string> {
  const keys = new Set<string>();
  for (const version of [slot.active, slot.pending, slot.shadow, slot.previous]) {
    if (version !== undefined) keys.add(modelKey({ name: slot.name, version }));
  }
  return keys;
}

/** Keys referred to before (or just loaded by the caller) that no slot refers to now. */
function releasedKeys(before: Set<string>, slot: Slot, loaded: string[] = []): string[] {
  const after = keysOf(slot);
  return [...new Set([...before, ...loaded])].filter((key) => !after.has(key));
}
