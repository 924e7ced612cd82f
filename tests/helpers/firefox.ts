import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { expect } from 'vitest';
import { VIEWPORT } from './browser.js';

/**
 * The web app must work in current Firefox too (issue 6): these tests drive
 * Debian's Firefox ESR through puppeteer-core over WebDriver BiDi.
 * puppeteer-core never downloads a browser; a missing Firefox fails the tests
 * (it does not skip them), so a CI image without it cannot pass quietly.
 */
export const FIREFOX_PATH = '/usr/bin/firefox-esr';
const SCREENSHOTS = fileURLToPath(new URL('../../test-artifacts/screenshots/', import.meta.url));
/** Every wait on a page: a page on a busy two-core machine takes a while, a broken one should not take 30 s to say so. */
const PAGE_TIMEOUT_MS = 15_000;

export const byTestId = (id: string): string => `[data-testid="${id}"]`;

export async function launchFirefox(): Promise<Browser> {
  if (!existsSync(FIREFOX_PATH)) {
    throw new Error(`Firefox is missing at ${FIREFOX_PATH}; the Firefox browser tests need it: apt-get install firefox-esr (browsers are never downloaded)`);
  }
  return puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX_PATH, headless: true, protocolTimeout: 60_000 });
}

/** A page of the web app and what went wrong in it that no assertion looked at. */
export interface FirefoxPage {
  page: Page;
  /** Uncaught exceptions, console errors, 5xx answers from the hub and parts shown "not available", as text. */
  problems: string[];
}

/** Runs in every page before the app: reports each "not available" element once (as tests/helpers/browser.ts does for Chromium). */
const WATCH_NOT_AVAILABLE = `
  const reported = new WeakSet();
  new MutationObserver(() => {
    for (const element of document.querySelectorAll('[data-testid="not-available"]')) {
      if (reported.has(element)) continue;
      reported.add(element);
      window.vigilTestNotAvailable(element.textContent ?? '');
    }
  }).observe(document, { childList: true, subtree: true, characterData: true });
`;

/**
 * A fresh browser context (own cookies) at the plant screen's size on the
 * hub's login page. `hash` is the route to open (`#/models`); the app comes
 * back to it after the login.
 */
export async function openLoginPage(browser: Browser, hubUrl: string, hash = ''): Promise<FirefoxPage> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.setDefaultTimeout(PAGE_TIMEOUT_MS);
  await page.setViewport(VIEWPORT);
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err instanceof Error ? err.message : String(err)}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 500) problems.push(`${r.status()} from ${r.request().method()} ${r.url()}`);
  });
  await page.exposeFunction('vigilTestNotAvailable', (text: string) => problems.push(`shown as not available: ${text}`));
  await page.evaluateOnNewDocument(WATCH_NOT_AVAILABLE);
  await page.goto(`${hubUrl}/${hash}`);
  await page.waitForSelector(byTestId('login-form'));
  return { page, problems };
}

/** Signs in through the login form of a page openLoginPage opened: typed keys and a click, as a person would. */
export async function submitLogin(page: Page, user: { name: string; password: string }): Promise<void> {
  await page.type(byTestId('login-username'), user.name);
  await page.type(byTestId('login-password'), user.password);
  await page.click(byTestId('login-submit'));
  const name = await page.waitForSelector(byTestId('header-user-name'));
  expect(await name!.evaluate((e) => e.textContent)).toBe(user.name);
}

/**
 * The window's inner size, the width left for the page beside a vertical
 * scroll bar (Firefox's takes room; Chromium's headless one overlays), and
 * how wide the page's content is: wider than that room is a horizontal scroll bar.
 */
export async function pageSize(page: Page): Promise<{ window: { width: number; height: number }; clientWidth: number; scrollWidth: number }> {
  return page.$eval('html', (html) => {
    const view = html.ownerDocument.defaultView;
    return { window: { width: view?.innerWidth ?? 0, height: view?.innerHeight ?? 0 }, clientWidth: html.clientWidth, scrollWidth: html.scrollWidth };
  });
}

/**
 * Saves the page as `test-artifacts/screenshots/firefox-<test>-<page>.png`
 * after checking what a look at it would show wrong: a part "not available"
 * (the app asked a wrong path), or a page wider than the window (a horizontal
 * scroll bar on the 1366 px plant screen).
 */
export async function screenshot(page: Page, test: string, pageName: string): Promise<string> {
  const notAvailable = await page.$$eval(byTestId('not-available'), (elements) => elements.map((e) => e.textContent ?? ''));
  expect(notAvailable, `${pageName}: parts not available`).toEqual([]);
  const size = await pageSize(page);
  expect(size.window, `${pageName}: the window is not the plant screen`).toEqual(VIEWPORT);
  expect(size.scrollWidth, `${pageName}: ${size.scrollWidth} px wide in ${size.clientWidth} px of a ${size.window.width} px window`).toBeLessThanOrEqual(size.clientWidth);
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `firefox-${test}-${pageName}.png`);
  await page.screenshot({ path: path as `${string}.png`, fullPage: true });
  return path;
}

/**
 * How many pixels of the `index`-th uPlot chart's plotting area (inside the
 * axes, where `.u-over` lies) are drawn in the data line's blue — the check
 * plottedPixels in tests/helpers/browser.ts makes, read from Firefox's canvas.
 * Grid lines are grey, the episode band and thresholds red and amber: only a
 * plotted series is blue, so an empty or failed plot counts (close to) zero.
 */
export async function plottedPixels(page: Page, chartTestId: string, index = 0): Promise<number> {
  return page.$$eval(
    byTestId(chartTestId),
    (charts, index) => {
      const root = charts[index];
      const canvas = root?.querySelector('canvas');
      const over = root?.querySelector('.u-over');
      if (!canvas || !over) return 0;
      const c = canvas.getBoundingClientRect();
      const o = over.getBoundingClientRect();
      if (c.width === 0) return 0;
      const scale = canvas.width / c.width;
      const x = Math.round((o.left - c.left) * scale);
      const y = Math.round((o.top - c.top) * scale);
      const w = Math.round(o.width * scale);
      const h = Math.round(o.height * scale);
      if (w <= 0 || h <= 0) return 0;
      const data = canvas.getContext('2d')!.getImageData(x, y, w, h).data;
      let blue = 0;
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b, a] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
        if (a > 128 && b - r > 60 && b - g > 30) blue++;
      }
      return blue;
    },
    index,
  );
}
