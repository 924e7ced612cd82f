import type { AgentEventKind } from '../../shared/episode.js';
import type { WindowResult } from '../../shared/window-result.js';

/**
 * A run of insufficient-data windows of one model: the data stopped (or went
 * bad), which a plant user must be able to tell apart from "the pump is odd".
 * Plain data, kept in the episode tracker's persisted state.
 */
export interface DataGap {
  /** Event time of the first insufficient window's start. */
  since: number;
  /** Event time of the latest insufficient window's end. */
  until: number;
  windows: number;
}

export interface DataGapEvent {
  kind: Extract<AgentEventKind, 'insufficient_data' | 'data_resumed'>;
  message: string;
  details: Record<string, unknown>;
}

/**
 * One window through the gap watch: an event when a run of insufficient
 * windows starts and when scored windows come back — once per run, never per
 * window, so an hour without data is two events, not hundreds.
 */
export function watchDataGap(gap: DataGap | null, result: WindowResult, insufficient: boolean): { gap: DataGap | null; event: DataGapEvent | null } {
  const name = `${result.model}@${result.version}`;
  if (insufficient) {
    if (gap) return { gap: { ...gap, until: result.end, windows: gap.windows + 1 }, event: null };
    const { filledShare, badShare } = result.quality;
    return {
      gap: { since: result.start, until: result.end, windows: 1 },
      event: {
        kind: 'insufficient_data',
        message: `${name}: too little real data to score from ${iso(result.start)} (${percent(badShare)} of cells bad or missing, ${percent(filledShare)} filled); no scores until data returns — check the sources and tags of this model`,
        details: { version: result.version, windowStart: result.start, windowEnd: result.end, filledShare, badShare },
      },
    };
  }
  if (!gap) return { gap: null, event: null };
  return {
    gap: null,
    event: {
      kind: 'data_resumed',
      message: `${name}: data back from ${iso(result.start)} after ${gap.windows} insufficient window${gap.windows === 1 ? '' : 's'} (${iso(gap.since)} to ${iso(gap.until)})`,
      details: { version: result.version, since: gap.since, until: gap.until, windows: gap.windows, windowStart: result.start },
    },
  };
}

function iso(ms: number): string {
  const date = new Date(ms);
  // A nonsense source timestamp must not turn an event into a thrown RangeError.
  return Number.isNaN(date.getTime()) ? `${ms} ms` : date.toISOString();
}

function percent(share: number): string {
  return `${Math.round(share * 100)} %`;
}
