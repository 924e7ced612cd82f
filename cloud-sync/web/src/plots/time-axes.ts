import type uPlot from 'uplot';
import { formatDateTime } from '../format/time-format.js';
import { PLOT_COLORS } from './plot-colors.js';

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * Tick labels in 24-hour local time like the rest of the app (uPlot's default
 * is US 12-hour): `14:05`, with seconds when ticks are under a minute apart,
 * and the date under a tick that starts a new day (the episode's own date is
 * on the page already, so a plot within one day stays one line high).
 */
function timeTickLabels(splits: readonly number[], stepMs: number): string[] {
  let previousDay: string | undefined;
  return splits.map((ms) => {
    const d = new Date(ms);
    const time = stepMs < 60_000 ? `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    const label = previousDay !== undefined && day !== previousDay ? `${time}\n${day}` : time;
    previousDay = day;
    return label;
  });
}

/**
 * Axes in the app's colours: local time below (one line high unless a day
 * starts inside the plot), values left at a fixed width so the plots of one
 * episode line up under each other.
 */
export function timeAxes(): uPlot.Axis[] {
  const common = { stroke: PLOT_COLORS.axis, grid: { stroke: PLOT_COLORS.grid, width: 1 }, ticks: { stroke: PLOT_COLORS.grid, width: 1, size: 5 } };
  return [
    {
      ...common,
      values: (_u: uPlot, splits: number[], _axis: number, _space: number, incr: number) => timeTickLabels(splits, incr),
      size: (_u: uPlot, values: string[] | null) => (values?.some((v) => v.includes('\n')) ? 44 : 28),
    },
    { ...common, size: 60 },
  ];
}

/** The x series: its legend shows the full local date and time under the cursor. */
export const TIME_SERIES: uPlot.Series = { value: (_u, ms) => (ms === null ? '--' : formatDateTime(ms)) };

/**
 * The x range of every plot of one episode: the shared span (snapshot and
 * scores) widened to the plot's own data, so the plots line up under each
 * other and the synced cursor points at the same instant in all of them.
 */
export function sharedTimeRange(range: { from: number; to: number }): uPlot.Scale['range'] {
  return (_u: uPlot, dataMin: number | null, dataMax: number | null) => [Math.min(dataMin ?? range.from, range.from), Math.max(dataMax ?? range.to, range.to)];
}
