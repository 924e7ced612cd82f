import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

interface UPlotChartProps {
  /** Everything but the size, which follows the container's width. */
  options: Omit<uPlot.Options, 'width' | 'height'>;
  data: uPlot.AlignedData;
  height: number;
  testId: string;
  /** Extra data-* attributes for tests (e.g. the tag). */
  attributes?: Record<string, string>;
}

/**
 * A uPlot chart sized to its container. Rebuilt when options or data change
 * (episode plots are small and change rarely); resized, not rebuilt, when the
 * window changes width.
 */
export function UPlotChart({ options, data, height, testId, attributes }: UPlotChartProps) {
  const container = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = container.current;
    if (!el) return;
    const chart = new uPlot({ ...options, width: Math.max(200, el.clientWidth), height }, data, el);
    const observer = new ResizeObserver(() => {
      const width = Math.max(200, el.clientWidth);
      if (width !== chart.width) chart.setSize({ width, height });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      chart.destroy();
    };
  }, [options, data, height]);
  return <div class="chart" ref={container} data-testid={testId} {...attributes} />;
}
