import type uPlot from 'uplot';
import { PLOT_COLORS } from './plot-colors.js';

/**
 * Shades the episode's span [start, end] on the x axis (end: now for an open
 * episode) with a translucent band under the grid and the lines, edged by
 * thin lines so a short span stays visible.
 */
export function spanBandPlugin(start: number, end: number): uPlot.Plugin {
  return {
    hooks: {
      drawClear: (u: uPlot) => {
        const { left, top, width, height } = u.bbox;
        const x0 = Math.max(left, Math.min(left + width, u.valToPos(start, 'x', true)));
        const x1 = Math.max(left, Math.min(left + width, u.valToPos(end, 'x', true)));
        if (!Number.isFinite(x0) || !Number.isFinite(x1)) return;
        const ctx = u.ctx;
        ctx.save();
        ctx.fillStyle = PLOT_COLORS.span;
        ctx.fillRect(x0, top, Math.max(x1 - x0, 1), height);
        ctx.strokeStyle = PLOT_COLORS.spanEdge;
        ctx.lineWidth = Math.max(1, devicePixelRatio);
        ctx.beginPath();
        for (const x of x1 - x0 > 2 ? [x0, x1] : [x0]) {
          ctx.moveTo(x, top);
          ctx.lineTo(x, top + height);
        }
        ctx.stroke();
        ctx.restore();
      },
    },
  };
}
