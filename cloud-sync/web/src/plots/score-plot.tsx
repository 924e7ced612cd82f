import { useMemo } from 'preact/hooks';
import type uPlot from 'uplot';
import type { EpisodeScores } from '../api/api-types.js';
import { PLOT_COLORS } from './plot-colors.js';
import { alignScores } from './score-series.js';
import type { PlotFrame } from './plot-frame.js';
import { spanBandPlugin } from './span-band-plugin.js';
import { thresholdLinesPlugin } from './threshold-lines-plugin.js';
import { sharedTimeRange, TIME_SERIES, timeAxes } from './time-axes.js';
import { UPlotChart } from './uplot-chart.js';

interface ScorePlotProps {
  scores: EpisodeScores;
  frame: PlotFrame;
}

/** The model's score around the episode with the warn and alarm thresholds and the span shaded. */
export function ScorePlot({ scores, frame }: ScorePlotProps) {
  const { series, data } = useMemo(() => alignScores(scores.scores), [scores]);
  const { warn, alarm } = scores.thresholds;
  const options = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(
    () => ({
      ms: 1,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false }, sync: { key: frame.syncKey } },
      scales: {
        x: { time: true, range: sharedTimeRange(frame.range) },
        // Always show both thresholds, even when every score stayed below them.
        y: { range: (_u, min, max) => [Math.min(0, min), Math.max(max, alarm) * 1.08] },
      },
      axes: timeAxes(),
      series: [
        TIME_SERIES,
        ...series.map((s, i) => ({
          label: s.label,
          stroke: PLOT_COLORS.lines[i % PLOT_COLORS.lines.length],
          width: s.shadow ? 1 : 1.75,
          dash: s.shadow ? [5, 4] : undefined,
          spanGaps: false,
          points: { show: data[0].length < 60 },
        })),
      ],
      plugins: [
        spanBandPlugin(frame.span.start, frame.span.end),
        thresholdLinesPlugin([
          { value: warn, color: PLOT_COLORS.warn, label: `warn ${warn}` },
          { value: alarm, color: PLOT_COLORS.alarm, label: `alarm ${alarm}` },
        ]),
      ],
    }),
    [series, data, warn, alarm, frame],
  );
  return <UPlotChart options={options} data={data} height={160} testId="score-plot" />;
}
