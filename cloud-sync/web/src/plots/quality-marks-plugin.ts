import type uPlot from 'uplot';
import type { TagSnapshot } from '../api/api-types.js';
import { PLOT_COLORS } from './plot-colors.js';

/**
 * Marks samples whose quality was not good: a tick on the bottom edge at
 * each such time (bad red, uncertain amber) — also where the value is a gap —
 * and a ring on the point itself when it has a value.
 */
export function qualityMarksPlugin(snapshot: Pick<TagSnapshot, 'ts' | 'values' | 'quality'>): uPlot.Plugin {
  return {
    hooks: {
      draw: (u: uPlot) => {
        const { left, top, width, height } = u.bbox;
        const ctx = u.ctx;
        const dpr = devicePixelRatio;
        const tick = 7 * dpr;
        ctx.save();
        ctx.lineWidth = 2 * dpr;
        for (let i = 0; i < snapshot.ts.length; i++) {
          const quality = snapshot.quality[i];
          if (quality === undefined || quality === 'good') continue;
          const x = u.valToPos(snapshot.ts[i]!, 'x', true);
          if (x < left || x > left + width) continue;
          ctx.strokeStyle = quality === 'bad' ? PLOT_COLORS.bad : PLOT_COLORS.uncertain;
          ctx.beginPath();
          ctx.moveTo(x, top + height);
          ctx.lineTo(x, top + height - tick);
          ctx.stroke();
          const value = snapshot.values[i];
          if (value === null || value === undefined || !Number.isFinite(value)) continue;
          const y = u.valToPos(value, 'y', true);
          ctx.beginPath();
          ctx.arc(x, y, 3.5 * dpr, 0, 2 * Math.PI);
          ctx.stroke();
        }
        ctx.restore();
      },
    },
  };
}
