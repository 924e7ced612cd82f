import type { Quality } from './sample.js';

/** Raw values of one tag around an episode, downsampled to a bounded number of points. */
export interface TagSnapshot {
  tag: string;
  /** Event times in ms, ascending. */
  ts: number[];
  values: Array<number | null>;
  quality: Quality[];
}

/**
 * An anomalous stretch of one model's scores: what a plant user is asked to
 * judge. Open episodes (end null) are updated as they grow; every update is a
 * new outbox record with the same id and a higher revision.
 */
export interface Episode {
  /** Stable across updates: `<agent>:<model>:<start ms>`. */
  id: string;
  revision: number;
  agent: string;
  model: string;
  version: string;
  /** Event time of the first alarm window's start. */
  start: number;
  /** Event time of the last window's end before it closed; null while open. */
  end: number | null;
  state: 'open' | 'closed';
  peakScore: number;
  meanScore: number;
  windows: number;
  /** Tags with the largest summed contributions, largest first. */
  topTags: Array<{ tag: string; share: number }>;
  thresholds: { warn: number; alarm: number };
  /** Raw values from snapshotBeforeMs before the start to the end (or now). */
  snapshot: TagSnapshot[];
  /**
   * The model's active scores over the same span (one point per window, at
   * the window's end), downsampled like the snapshot, so the episode can be
   * plotted with its thresholds on its own. Tag `score:<model>`.
   */
  scores?: TagSnapshot;
}

/** The history series an agent keeps of a model's active scores (beside the raw tags). */
export function scoreSeriesTag(model: string): string {
  return `score:${model}`;
}

/** Things that are not scores or episodes but a person must be able to see. */
export type AgentEventKind =
  | 'insufficient_data'
  | 'data_resumed'
  | 'model_fault'
  | 'model_activated'
  | 'model_refused'
  | 'model_rolled_back'
  | 'source_disconnected'
  | 'source_connected'
  | 'store_eviction'
  | 'store_quarantined'
  | 'samples_dropped';

export interface AgentEvent {
  kind: AgentEventKind;
  /** Wall-clock time the agent raised it, ms. */
  at: number;
  agent: string;
  /** Model or source the event is about, when there is one. */
  subject?: string;
  message: string;
  details?: Record<string, unknown>;
}
