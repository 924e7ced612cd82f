import type { Episode } from '../api/api-types.js';

/** What every plot of one episode shares: the shaded span, the x range, and the cursor sync group. */
export interface PlotFrame {
  /** The episode's span; end is now for an open episode. */
  span: { start: number; end: number };
  /** Earliest to latest instant of the snapshot, the carried scores and the span. */
  range: { from: number; to: number };
  /** uPlot cursor sync key: hovering one plot shows the same instant in all. */
  syncKey: string;
}

export function plotFrame(episode: Pick<Episode, 'id' | 'start' | 'end' | 'snapshot' | 'scores'>, now: number): PlotFrame {
  const span = { start: episode.start, end: episode.end ?? now };
  const series = [...episode.snapshot, ...(episode.scores ? [episode.scores] : [])].filter((s) => s.ts.length > 0);
  const from = Math.min(span.start, ...series.map((s) => s.ts[0]!));
  const to = Math.max(span.end, ...series.map((s) => s.ts[s.ts.length - 1]!));
  return { span, range: { from, to }, syncKey: `episode:${episode.id}` };
}
