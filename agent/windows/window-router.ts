import type { Sample } from '../../shared/sample.js';
import type { ModelWindower, WindowerCounters } from './model-windower.js';

/** Every windower that has a tag, with the tag's index in each. */
interface Route {
  windowers: ModelWindower[];
  indexes: number[];
}

/**
 * Hands pipeline sample batches to every model windower that has the tag —
 * many models share tags, each windows them on its own grid. The tag → routes
 * table is rebuilt on add/remove (rare) so the per-sample path is one Map
 * lookup and a short loop. `consume` is bound, so it can be passed straight to
 * `SamplePipeline.subscribe`; the caller then takes due windows from each
 * windower after the batch.
 */
export class WindowRouter {
  private readonly windowers = new Map<string, ModelWindower>();
  private routes = new Map<string, Route>();
  private unroutedSamples = 0;

  /** Starts routing to a windower under a key such as `name@version`; a key already in use is a programming error. */
  add(key: string, windower: ModelWindower): void {
    if (this.windowers.has(key)) throw new Error(`window router: "${key}" is already routed; remove it first`);
    this.windowers.set(key, windower);
    this.rebuild();
  }

  /** Stops routing to a windower; false when the key was not routed. */
  remove(key: string): boolean {
    const removed = this.windowers.delete(key);
    if (removed) this.rebuild();
    return removed;
  }

  get(key: string): ModelWindower | undefined {
    return this.windowers.get(key);
  }

  keys(): string[] {
    return [...this.windowers.keys()];
  }

  readonly consume = (batch: readonly Sample[]): void => {
    const routes = this.routes;
    for (let s = 0; s < batch.length; s++) {
      const sample = batch[s]!;
      const route = routes.get(sample.tag);
      if (route === undefined) {
        this.unroutedSamples++;
        continue;
      }
      const { windowers, indexes } = route;
      for (let r = 0; r < windowers.length; r++) windowers[r]!.offer(indexes[r]!, sample.ts, sample.value, sample.quality);
    }
  };

  /** Counters of each routed windower, by key. */
  counters(): Record<string, WindowerCounters> {
    const out: Record<string, WindowerCounters> = {};
    for (const [key, windower] of this.windowers) out[key] = windower.counters();
    return out;
  }

  /** Samples of tags no model uses (not an error: most tags feed no model). */
  get unrouted(): number {
    return this.unroutedSamples;
  }

  private rebuild(): void {
    const routes = new Map<string, Route>();
    for (const windower of this.windowers.values()) {
      windower.spec.tags.forEach((tag, index) => {
        let route = routes.get(tag);
        if (!route) routes.set(tag, (route = { windowers: [], indexes: [] }));
        route.windowers.push(windower);
        route.indexes.push(index);
      });
    }
    this.routes = routes;
  }
}
