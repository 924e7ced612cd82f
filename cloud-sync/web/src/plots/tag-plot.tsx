import { useMemo } from 'preact/hooks';
import type uPlot from 'uplot';
import type { TagSnapshot } from '../api/api-types.js';
import { formatShare } from '../format/number-format.js';
import { PLOT_COLORS } from './plot-colors.js';
import { qualityMarksPlugin } from './quality-marks-plugin.js';
import type { PlotFrame } from './plot-frame.js';
import { spanBandPlugin } from './span-band-plugin.js';
import { sharedTimeRange, TIME_SERIES, timeAxes } from './time-axes.js';
import { UPlotChart } from './uplot-chart.js';

interface TagPlotProps {
  snapshot: TagSnapshot;
  frame: PlotFrame;
  /** The tag's share of the anomaly, when it is a top tag. */
  share?: number;
}

/** One tag's raw values around the episode: gaps stay gaps, non-good samples are marked, the span is shaded. */
export function TagPlot({ snapshot, frame, share }: TagPlotProps) {
  const options = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(
    () => ({
      ms: 1,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false }, sync: { key: frame.syncKey } },
      scales: { x: { time: true, range: sharedTimeRange(frame.range) } },
      axes: timeAxes(),
      series: [TIME_SERIES, { label: snapshot.tag, stroke: PLOT_COLORS.line, width: 1.5, spanGaps: false, points: { show: false } }],
      plugins: [spanBandPlugin(frame.span.start, frame.span.end), qualityMarksPlugin(snapshot)],
    }),
    [snapshot, frame],
  );
  const data = useMemo<uPlot.AlignedData>(() => [snapshot.ts, snapshot.values], [snapshot]);
  const bad = snapshot.quality.filter((q) => q === 'bad').length;
  const uncertain = snapshot.quality.filter((q) => q === 'uncertain').length;
  const gaps = snapshot.values.filter((v) => v === null).length;
  return (
    <figure class="plot-figure">
      <figcaption>
        <strong>{snapshot.tag}</strong>
        {share !== undefined ? <span class="muted"> · {formatShare(share)} of the anomaly</span> : null}
        {bad > 0 ? <span class="quality-bad"> · {bad} bad-quality samples (red ticks)</span> : null}
        {uncertain > 0 ? <span class="quality-uncertain"> · {uncertain} uncertain (amber ticks)</span> : null}
        {gaps > 0 ? <span class="muted"> · {gaps} gaps</span> : null}
      </figcaption>
      {snapshot.ts.length === 0 ? (
        <p class="muted">No samples of this tag in the snapshot.</p>
      ) : (
        <UPlotChart options={options} data={data} height={130} testId="tag-plot" attributes={{ 'data-tag': snapshot.tag }} />
      )}
    </figure>
  );
}
