import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What the Chromium (browser.ts, playwright-core) and Firefox (firefox.ts,
 * puppeteer-core) helpers check the same way, whatever drives the browser.
 */

const SCREENSHOTS = fileURLToPath(new URL('../../test-artifacts/screenshots/', import.meta.url));

/** `test-artifacts/screenshots/<file>.png`, the folder made on first use. */
export function screenshotPath(file: string): `${string}.png` {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return join(SCREENSHOTS, `${file}.png`) as `${string}.png`;
}

/**
 * Runs in every page before the app: reports each "not available" element
 * once through `window.vigilTestNotAvailable` (which the helper exposes).
 * Text, as the helpers have no DOM types.
 */
export const WATCH_NOT_AVAILABLE = `
  const reported = new WeakSet();
  new MutationObserver(() => {
    for (const element of document.querySelectorAll('[data-testid="not-available"]')) {
      if (reported.has(element)) continue;
      reported.add(element);
      window.vigilTestNotAvailable(element.textContent ?? '');
    }
  }).observe(document, { childList: true, subtree: true, characterData: true });
`;

/** The little of the DOM the pixel count uses (these helpers compile without DOM types). */
interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}
interface PageCanvas {
  width: number;
  getBoundingClientRect(): Rect;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } };
}
interface ChartRoot {
  querySelector(selector: string): unknown;
}

/**
 * Runs in the page on a uPlot chart's root element: how many pixels of its
 * plotting area (inside the axes, where `.u-over` lies) are drawn in the data
 * line's blue; null when the element holds no uPlot chart. Grid lines are
 * grey, the episode band and thresholds red and amber: only a plotted series
 * is blue, so an empty or failed plot counts (close to) zero. Self-contained:
 * the browser driver sends its source to the page.
 */
export function bluePixelsInPlotArea(root: ChartRoot): number | null {
  const canvas = root.querySelector('canvas') as PageCanvas | null;
  const over = root.querySelector('.u-over') as { getBoundingClientRect(): Rect } | null;
  if (!canvas || !over) return null;
  const c = canvas.getBoundingClientRect();
  const o = over.getBoundingClientRect();
  if (c.width === 0) return 0;
  const scale = canvas.width / c.width;
  const x = Math.round((o.left - c.left) * scale);
  const y = Math.round((o.top - c.top) * scale);
  const w = Math.round(o.width * scale);
  const h = Math.round(o.height * scale);
  if (w <= 0 || h <= 0) return 0;
  const data = canvas.getContext('2d').getImageData(x, y, w, h).data;
  let blue = 0;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b, a] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
    if (a > 128 && b - r > 60 && b - g > 30) blue++;
  }
  return blue;
}
