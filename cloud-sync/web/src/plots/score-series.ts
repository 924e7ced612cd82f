import type uPlot from 'uplot';
import type { ScorePoint } from '../api/api-types.js';

export interface ScoreSeries {
  /** e.g. `1.1.0` or `1.2.0 (shadow)`. */
  label: string;
  shadow: boolean;
}

/**
 * Scores as uPlot wants them: one x array (window ends, ascending) and one
 * y array per version (active and shadow versions score side by side), null
 * where a version has no window at that time.
 */
export function alignScores(scores: readonly ScorePoint[]): { series: ScoreSeries[]; data: uPlot.AlignedData } {
  const keyOf = (s: ScorePoint) => `${s.version}${s.shadow ? ' (shadow)' : ''}`;
  const keys = [...new Set(scores.map(keyOf))];
  const xs = [...new Set(scores.map((s) => s.end))].sort((a, b) => a - b);
  const column = new Map(xs.map((x, i) => [x, i]));
  const ys = keys.map(() => new Array<number | null>(xs.length).fill(null));
  for (const s of scores) ys[keys.indexOf(keyOf(s))]![column.get(s.end)!] = s.score;
  return {
    series: keys.map((label) => ({ label, shadow: label.endsWith('(shadow)') })),
    data: [xs, ...ys],
  };
}
