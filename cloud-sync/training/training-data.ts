import type { LINEAGE_SOURCE_KINDS } from '../../shared/model-manifest.js';

/**
 * Recorded values of one tag, oldest first: `ts` in ms since the Unix epoch,
 * `values` (NaN for a missing value), and optionally `bad` (1 = bad quality).
 * A CSV file gives every tag the same `ts`; an agent's raw history gives each
 * tag its own.
 */
export interface TagSeries {
  tag: string;
  ts: Float64Array;
  values: Float64Array;
  bad?: Uint8Array;
}

/** Where a stretch of training data came from, as the lineage names it. */
export interface TrainingSource {
  kind: (typeof LINEAGE_SOURCE_KINDS)[number];
  /** A file, an agent id, an episode id. */
  name: string;
  /** How the data was read, when that matters (kept in the lineage): e.g. an episode's raw history or only its snapshot. */
  note?: string;
}

/** A source the model was meant to learn from whose data could not be read: named in the lineage with windows 0 and why. */
export interface MissingSource {
  kind: TrainingSource['kind'];
  name: string;
  /** The period that was asked for, ms since the Unix epoch. */
  from: number;
  to: number;
  note: string;
}

/**
 * One continuous recording of the model's tags. Windows never span two
 * segments: a gap between two CSV files, or between an episode answered as
 * normal and the training period, is not data.
 */
export interface TrainingSegment {
  source: TrainingSource;
  series: TagSeries[];
}

/** First and last timestamp of a segment's series (NaN, NaN when it has none). */
export function segmentSpan(segment: TrainingSegment): { from: number; to: number } {
  let from = Infinity;
  let to = -Infinity;
  for (const s of segment.series) {
    if (s.ts.length === 0) continue;
    from = Math.min(from, s.ts[0] as number);
    to = Math.max(to, s.ts[s.ts.length - 1] as number);
  }
  return Number.isFinite(from) ? { from, to } : { from: NaN, to: NaN };
}
