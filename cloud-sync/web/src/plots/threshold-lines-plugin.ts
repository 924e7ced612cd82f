import type uPlot from 'uplot';

export interface ThresholdLine {
  value: number;
  color: string;
  label: string;
}

/** Horizontal dashed lines at the warn and alarm thresholds, labelled at the right edge. */
export function thresholdLinesPlugin(lines: readonly ThresholdLine[]): uPlot.Plugin {
  return {
    hooks: {
      draw: (u: uPlot) => {
        const { left, top, width, height } = u.bbox;
        const ctx = u.ctx;
        const dpr = devicePixelRatio;
        ctx.save();
        ctx.lineWidth = 1.5 * dpr;
        ctx.setLineDash([6 * dpr, 4 * dpr]);
        ctx.font = `${11 * dpr}px sans-serif`;
        ctx.textAlign = 'right';
        ctx.textBaseline = 'bottom';
        for (const line of lines) {
          const y = u.valToPos(line.value, 'y', true);
          if (!Number.isFinite(y) || y < top || y > top + height) continue;
          ctx.strokeStyle = line.color;
          ctx.beginPath();
          ctx.moveTo(left, y);
          ctx.lineTo(left + width, y);
          ctx.stroke();
          ctx.fillStyle = line.color;
          ctx.fillText(line.label, left + width - 4 * dpr, y - 2 * dpr);
        }
        ctx.restore();
      },
    },
  };
}
