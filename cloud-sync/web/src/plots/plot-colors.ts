/** Colours shared by the plots and app.css (kept in step by hand: canvas cannot read CSS variables cheaply). */
export const PLOT_COLORS = {
  line: '#1f5fa8',
  lines: ['#1f5fa8', '#7a3fa0', '#2b8a3e', '#b35c00'],
  span: 'rgba(214, 69, 65, 0.12)',
  spanEdge: 'rgba(214, 69, 65, 0.55)',
  warn: '#c77c00',
  alarm: '#c62828',
  bad: '#c62828',
  uncertain: '#c77c00',
  grid: '#e3e6ea',
  axis: '#5b6470',
} as const;
