import { scoreSeriesTag, type AgentEvent, type Episode, type TagSnapshot } from '../../shared/episode.js';
import type { Sample } from '../../shared/sample.js';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { ModelManifest } from '../../shared/model-manifest.js';
import type { WindowResult } from '../../shared/window-result.js';
import { EpisodeTracker, type EpisodeTrackerState } from './episode-tracker.js';

export type OutboxStream = 'scores' | 'episodes' | 'events';

/** What the flow needs from the store (the LMDB outbox and agent state fit). */
export interface OutboxWriter {
  append(stream: OutboxStream, bodies: unknown[]): Promise<{ first: number; last: number }>;
}
export interface StateStore {
  get<T>(key: string): T | undefined;
  put(key: string, value: unknown): Promise<void>;
}

export interface EpisodeFlowDeps {
  agentId: string;
  outbox: OutboxWriter;
  state: StateStore;
  snapshot: (tags: readonly string[], from: number, to: number, maxPoints: number) => TagSnapshot[];
  /** Keeps active scores as a history series (`score:<model>`), so episodes carry their score plot. */
  recordScores?: (samples: Sample[]) => void;
  /** Manifest of a loaded model version (`name@version`). */
  manifest: (key: string) => ModelManifest | undefined;
  log: Logger;
  /** Closed and open episodes listed on /episodes. Default 100. */
  recentLimit?: number;
}

const RECENT_KEY = 'episodes:recent';
const trackerKey = (model: string) => `episodes:tracker:${model}`;

/**
 * Results → outbox. Every window result goes to the `scores` stream; the
 * active results of each model go through its EpisodeTracker, whose episode
 * revisions go to `episodes` and whose data-gap events go to `events`.
 * Appends are chained per flow so records reach the outbox in the order they
 * were produced; tracker state is saved beside them so an open episode keeps
 * its id across a restart.
 */
export class EpisodeFlow {
  private readonly trackers = new Map<string, EpisodeTracker>();
  private readonly recent = new Map<string, Episode>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly stats = { appended: { scores: 0, episodes: 0, events: 0 }, appendFailures: 0 };

  constructor(private readonly deps: EpisodeFlowDeps) {
    for (const e of deps.state.get<Episode[]>(RECENT_KEY) ?? []) this.recent.set(e.id, e);
  }

  /** Host callback: one batch of one model's results. Never throws. */
  onResults(results: readonly WindowResult[]): void {
    if (results.length === 0) return;
    this.enqueue('scores', [...results]);
    const active = results.filter((r) => !r.shadow);
    if (active.length === 0) return;
    this.recordScores(active);
    const first = active[0]!;
    const manifest = this.deps.manifest(`${first.model}@${first.version}`);
    if (!manifest) return;
    try {
      const tracker = this.tracker(first.model, manifest);
      const { episodes, events } = tracker.onResults(active, manifest);
      if (episodes.length > 0) {
        this.enqueue('episodes', episodes);
        for (const e of episodes) this.remember(e);
      }
      if (events.length > 0) this.enqueue('events', events);
      if (episodes.length > 0 || events.length > 0 || tracker.openEpisode()) this.saveState(first.model, tracker.state());
    } catch (err) {
      this.deps.log.error({ model: first.model, err: describeError(err) }, 'episode tracking failed for a batch of results');
    }
  }

  private recordScores(active: readonly WindowResult[]): void {
    if (!this.deps.recordScores) return;
    const samples: Sample[] = [];
    for (const r of active) if (r.status === 'scored' && r.score !== null) samples.push({ tag: scoreSeriesTag(r.model), ts: r.end, value: r.score, quality: 'good' });
    if (samples.length > 0) this.deps.recordScores(samples);
  }

  /** Any other event for the hub (sources, models, store). */
  onEvent(event: AgentEvent): void {
    this.enqueue('events', [event]);
  }

  /** For GET /episodes: open episodes first, then the most recent, newest first. */
  episodes(): { open: Episode[]; recent: Episode[] } {
    const open: Episode[] = [];
    for (const tracker of this.trackers.values()) {
      const e = tracker.openEpisode();
      if (e) open.push(e);
    }
    const recent = [...this.recent.values()].sort((a, b) => b.start - a.start).map((e) => ({ ...e, snapshot: [] }));
    return { open, recent };
  }

  counters() {
    const trackers: Record<string, ReturnType<EpisodeTracker['counters']>> = {};
    for (const [model, t] of this.trackers) trackers[model] = t.counters();
    return { ...this.stats, appended: { ...this.stats.appended }, trackers };
  }

  /** Resolves when everything produced so far is durable in the outbox. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private tracker(model: string, manifest: ModelManifest): EpisodeTracker {
    let tracker = this.trackers.get(model);
    if (tracker) return tracker;
    const options = { agentId: this.deps.agentId, model, params: manifest.episodes, snapshot: this.deps.snapshot };
    const saved = this.deps.state.get<EpisodeTrackerState>(trackerKey(model));
    try {
      tracker = saved ? EpisodeTracker.restore(saved, options) : new EpisodeTracker(options);
    } catch (err) {
      this.deps.log.warn({ model, err: describeError(err) }, 'saved episode state could not be restored; starting fresh');
      tracker = new EpisodeTracker(options);
    }
    this.trackers.set(model, tracker);
    return tracker;
  }

  private remember(e: Episode): void {
    this.recent.delete(e.id);
    this.recent.set(e.id, { ...e, snapshot: [] });
    const limit = this.deps.recentLimit ?? 100;
    while (this.recent.size > limit) this.recent.delete(this.recent.keys().next().value as string);
    this.then(() => this.deps.state.put(RECENT_KEY, [...this.recent.values()]));
  }

  private saveState(model: string, state: EpisodeTrackerState): void {
    this.then(() => this.deps.state.put(trackerKey(model), state));
  }

  /** The outbox numbers records in call order, so appends need not wait for each other. */
  private enqueue(stream: OutboxStream, bodies: unknown[]): void {
    this.then(async () => {
      await this.deps.outbox.append(stream, bodies);
      this.stats.appended[stream] += bodies.length;
    });
  }

  private then(step: () => Promise<unknown>): void {
    const p = step().then(
      () => undefined,
      (err: unknown) => {
        this.stats.appendFailures++;
        this.deps.log.error({ err: describeError(err) }, 'writing to the store failed');
      },
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }
}
