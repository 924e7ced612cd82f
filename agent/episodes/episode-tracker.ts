import { scoreSeriesTag, type AgentEvent, type Episode, type TagSnapshot } from '../../shared/episode.js';
import { levelOf, type ModelManifest } from '../../shared/model-manifest.js';
import type { WindowResult } from '../../shared/window-result.js';
import { watchDataGap, type DataGap } from './data-gap.js';
import { downsample } from './downsample.js';
import { addWindow, emptyStats, mergeStats, topTags, type WindowStats } from './episode-stats.js';

/**
 * Raw values of `tags` between two event times, at most `maxPoints` per tag.
 * The agent backs it with the LMDB raw-history ring; unit tests pass a fake.
 */
export type SnapshotReader = (tags: readonly string[], from: number, to: number, maxPoints: number) => TagSnapshot[];

export type EpisodeParams = ModelManifest['episodes'];

export interface EpisodeTrackerOptions {
  agentId: string;
  model: string;
  params: EpisodeParams;
  snapshot: SnapshotReader;
  /** Least event time between two revisions of an open episode. Default 60000 ms. */
  updateIntervalMs?: number;
  /** Wall clock for the `at` of events. Default Date.now. */
  now?: () => number;
}

export interface EpisodeCounters {
  /** Episodes opened by `openAfter` alarm windows (a merge is not a new one). */
  opened: number;
  /** Closing revisions emitted. */
  closed: number;
  /** Closed episodes reopened because the next one started within `mergeGapMs`. */
  merged: number;
  /** Episodes that ended shorter than `minDurationMs`: never emitted. */
  droppedShort: number;
  /** Throttled revisions of open episodes (neither the first, a reopening nor the closing). */
  updates: number;
  /** Windows ignored because they did not end after the last one seen (a replay). */
  skippedOutOfOrder: number;
  /** Revisions emitted with an empty snapshot because the reader threw. */
  snapshotFailures: number;
}

export interface EpisodeBatch {
  /** Records for the outbox, in window order; consumers keep the highest revision per id. */
  episodes: Episode[];
  events: AgentEvent[];
}

type ManifestView = Pick<ModelManifest, 'version' | 'tags' | 'thresholds'>;
type Level = 'alarm' | 'warn' | 'below' | 'insufficient';

/** Consecutive alarm windows seen while no episode is open. */
interface AlarmRun {
  start: number;
  count: number;
  stats: WindowStats;
}

interface TrackedEpisode {
  start: number;
  /** Of the window that opened it; tags and thresholds are of that version's manifest. */
  version: string;
  tags: string[];
  thresholds: { warn: number; alarm: number };
  phase: 'open' | 'closed';
  /** Windows from the first opening window to the last at-or-above-warn one. */
  stats: WindowStats;
  /** End of the last at-or-above-warn window: the episode's end once closed. */
  lastHighEnd: number;
  /** Windows after lastHighEnd: the closing run, then (once closed) the gap a merge would bridge. */
  tail: WindowStats;
  /** Consecutive below-warn or insufficient windows while open. */
  closeRun: number;
  /** Revision last emitted; 0 while held back by minDurationMs. */
  revision: number;
  /** Event time (window end) of the last emitted revision. */
  lastEmitAt: number | null;
}

/** Everything needed to carry an episode across a restart; plain JSON. */
export interface EpisodeTrackerState {
  format: 1;
  agentId: string;
  model: string;
  lastWindowEnd: number | null;
  run: AlarmRun | null;
  episode: TrackedEpisode | null;
  gap: DataGap | null;
}

/**
 * Turns one model's window results into episodes and data-gap events. One
 * tracker per model name; rules in ./README.md. Pure logic apart from the
 * snapshot reader and the clock: the same windows give the same records
 * however they are split into calls, and across state() / restore().
 */
export class EpisodeTracker {
  private readonly agentId: string;
  private readonly model: string;
  private readonly params: EpisodeParams;
  private readonly readSnapshot: SnapshotReader;
  private readonly updateIntervalMs: number;
  private readonly now: () => number;
  private lastWindowEnd: number | null = null;
  private run: AlarmRun | null = null;
  private episode: TrackedEpisode | null = null;
  private gap: DataGap | null = null;
  private readonly counts: EpisodeCounters = { opened: 0, closed: 0, merged: 0, droppedShort: 0, updates: 0, skippedOutOfOrder: 0, snapshotFailures: 0 };

  constructor(options: EpisodeTrackerOptions) {
    this.agentId = options.agentId;
    this.model = options.model;
    this.params = { ...options.params };
    this.readSnapshot = options.snapshot;
    this.updateIntervalMs = options.updateIntervalMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * Feeds the results of this model in window order. Shadow results
   * (`shadow: true`) are ignored: only the active version's windows make
   * episodes. A window that does not end after the last one seen is skipped
   * and counted (a replay after a restart). `manifest` is the active
   * version's; a window is judged by its own `level` (set by the version that
   * scored it) and by `manifest.thresholds` only when it has none.
   */
  onResults(results: readonly WindowResult[], manifest: ManifestView): EpisodeBatch {
    const batch: EpisodeBatch = { episodes: [], events: [] };
    for (const result of results) {
      if (result.shadow) continue;
      if (result.model !== this.model) throw new Error(`EpisodeTracker for ${this.model} was given a result of ${result.model}`);
      if (this.lastWindowEnd !== null && result.end <= this.lastWindowEnd) {
        this.counts.skippedOutOfOrder += 1;
        continue;
      }
      this.lastWindowEnd = result.end;
      const level = levelOfWindow(result, manifest.thresholds);
      const watched = watchDataGap(this.gap, result, level === 'insufficient');
      this.gap = watched.gap;
      if (watched.event) batch.events.push({ ...watched.event, at: this.now(), agent: this.agentId, subject: this.model });
      this.step(result, level, manifest, batch.episodes);
    }
    return batch;
  }

  counters(): EpisodeCounters {
    return { ...this.counts };
  }

  /**
   * The open episode as of the latest window, for the agent's /episodes page;
   * null when none is open or it is still held back by minDurationMs.
   * `revision` is the last one emitted; `snapshot` is left empty (the stored
   * records carry it) so a page view never reads the history ring.
   */
  openEpisode(): Episode | null {
    const ep = this.episode;
    if (!ep || ep.phase !== 'open' || ep.revision === 0) return null;
    return this.record(ep, []);
  }

  state(): EpisodeTrackerState {
    return structuredClone({ format: 1, agentId: this.agentId, model: this.model, lastWindowEnd: this.lastWindowEnd, run: this.run, episode: this.episode, gap: this.gap });
  }

  /** A tracker that carries on from `state()`; counters start again from zero, like every counter after a restart. */
  static restore(state: EpisodeTrackerState, options: EpisodeTrackerOptions): EpisodeTracker {
    if (state.format !== 1) throw new Error(`EpisodeTracker state format ${String(state.format)} is not known to this agent`);
    if (state.model !== options.model || state.agentId !== options.agentId) {
      throw new Error(`EpisodeTracker state of ${state.agentId}/${state.model} given to ${options.agentId}/${options.model}`);
    }
    const tracker = new EpisodeTracker(options);
    const copy = structuredClone(state);
    tracker.lastWindowEnd = copy.lastWindowEnd;
    tracker.run = copy.run;
    tracker.episode = copy.episode;
    tracker.gap = copy.gap;
    return tracker;
  }

  private step(result: WindowResult, level: Level, manifest: ManifestView, out: Episode[]): void {
    const high = level === 'alarm' || level === 'warn';
    const ep = this.episode;
    if (ep && ep.phase === 'open') {
      if (high) {
        // Below-warn windows between two high ones belong to the episode after all.
        mergeStats(ep.stats, ep.tail);
        ep.tail = emptyStats();
        addWindow(ep.stats, result);
        ep.lastHighEnd = result.end;
        ep.closeRun = 0;
      } else {
        addWindow(ep.tail, result);
        ep.closeRun += 1;
      }
      if (ep.closeRun >= this.params.closeAfter) this.close(ep, result.end, out);
      else this.emitIfDue(ep, result.end, out);
    } else if (level === 'alarm') {
      this.run ??= { start: result.start, count: 0, stats: emptyStats() };
      this.run.count += 1;
      addWindow(this.run.stats, result);
      if (this.run.count >= this.params.openAfter) this.open(result, manifest, out);
    } else {
      // The run broke before opening anything: its windows are part of the gap a merge would bridge.
      if (ep && this.run) mergeStats(ep.tail, this.run.stats);
      this.run = null;
      if (ep) addWindow(ep.tail, result);
    }
    this.releaseIfBeyondMerge(result.start);
  }

  private open(result: WindowResult, manifest: ManifestView, out: Episode[]): void {
    const run = this.run!;
    this.run = null;
    const previous = this.episode;
    if (previous && run.start < previous.lastHighEnd + this.params.mergeGapMs) {
      // The previous episode closed too early: carry on with it as if it never had.
      mergeStats(previous.stats, previous.tail);
      mergeStats(previous.stats, run.stats);
      previous.tail = emptyStats();
      previous.phase = 'open';
      previous.closeRun = 0;
      previous.lastHighEnd = result.end;
      this.counts.merged += 1;
      if (previous.revision > 0) this.emit(previous, result.end, out);
      else this.emitIfDue(previous, result.end, out);
      return;
    }
    if (previous && previous.revision === 0) this.counts.droppedShort += 1;
    this.counts.opened += 1;
    const ep: TrackedEpisode = {
      start: run.start,
      version: result.version,
      tags: [...manifest.tags],
      thresholds: { warn: manifest.thresholds.warn, alarm: manifest.thresholds.alarm },
      phase: 'open',
      stats: run.stats,
      lastHighEnd: result.end,
      tail: emptyStats(),
      closeRun: 0,
      revision: 0,
      lastEmitAt: null,
    };
    this.episode = ep;
    this.emitIfDue(ep, result.end, out);
  }

  private close(ep: TrackedEpisode, windowEnd: number, out: Episode[]): void {
    ep.phase = 'closed';
    // A held-back episode stays held: a merge may still make it long enough.
    if (ep.revision > 0) {
      this.emit(ep, windowEnd, out);
      this.counts.closed += 1;
    }
  }

  /** Forgets a closed episode once no later opening could merge into it. */
  private releaseIfBeyondMerge(windowStart: number): void {
    const ep = this.episode;
    if (!ep || ep.phase !== 'closed') return;
    // Windows arrive in order, so no opening can start before the pending run or this window.
    const earliestOpening = this.run?.start ?? windowStart;
    if (earliestOpening < ep.lastHighEnd + this.params.mergeGapMs) return;
    if (ep.revision === 0) this.counts.droppedShort += 1;
    this.episode = null;
  }

  /** First revision once the episode is long enough; later ones at most every updateIntervalMs of event time. */
  private emitIfDue(ep: TrackedEpisode, windowEnd: number, out: Episode[]): void {
    if (ep.revision === 0) {
      if (ep.lastHighEnd - ep.start >= this.params.minDurationMs) this.emit(ep, windowEnd, out);
      return;
    }
    if (windowEnd - (ep.lastEmitAt ?? windowEnd) >= this.updateIntervalMs) {
      this.emit(ep, windowEnd, out);
      this.counts.updates += 1;
    }
  }

  private emit(ep: TrackedEpisode, windowEnd: number, out: Episode[]): void {
    ep.revision += 1;
    ep.lastEmitAt = windowEnd;
    const to = ep.phase === 'closed' ? ep.lastHighEnd : windowEnd;
    const scoreTag = scoreSeriesTag(this.model);
    // The model's own score series is read beside its tags, from the same history.
    const read = this.snapshotOf([...ep.tags, scoreTag], ep.start - this.params.snapshotBeforeMs, to);
    const scores = read.find((s) => s.tag === scoreTag);
    out.push(this.record(ep, read.filter((s) => s !== scores), scores));
  }

  private snapshotOf(tags: readonly string[], from: number, to: number): TagSnapshot[] {
    const maxPoints = this.params.snapshotMaxPoints;
    let snapshots: TagSnapshot[];
    try {
      snapshots = this.readSnapshot(tags, from, to, maxPoints);
    } catch {
      // An episode without its raw values is still worth sending; the count shows it happened.
      this.counts.snapshotFailures += 1;
      return [];
    }
    // The bound is this record's promise, whatever the reader did.
    return snapshots.map((s) => (s.ts.length <= maxPoints ? s : { tag: s.tag, ...downsample(s.ts, s.values, s.quality, maxPoints) }));
  }

  private record(ep: TrackedEpisode, snapshot: TagSnapshot[], scores?: TagSnapshot): Episode {
    const { stats } = ep;
    return {
      id: `${this.agentId}:${this.model}:${ep.start}`,
      revision: ep.revision,
      agent: this.agentId,
      model: this.model,
      version: ep.version,
      start: ep.start,
      end: ep.phase === 'closed' ? ep.lastHighEnd : null,
      state: ep.phase,
      peakScore: stats.peak ?? 0,
      meanScore: stats.scored > 0 ? stats.sum / stats.scored : 0,
      windows: stats.windows,
      topTags: topTags(stats),
      thresholds: { ...ep.thresholds },
      snapshot,
      ...(scores ? { scores } : {}),
    };
  }
}

function levelOfWindow(result: WindowResult, thresholds: ManifestView['thresholds']): Level {
  if (result.status !== 'scored' || result.score === null || !Number.isFinite(result.score)) return 'insufficient';
  const level = result.level ?? levelOf(result.score, thresholds);
  return level === 'normal' ? 'below' : level;
}
