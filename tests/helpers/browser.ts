import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { bluePixelsInPlotArea, screenshotPath, WATCH_NOT_AVAILABLE } from './page-checks.js';

/**
 * Browser tests drive the machine's Debian Chromium through playwright-core.
 * Browsers are never downloaded: a missing Chromium fails the tests (it does
 * not skip them), so a CI image without it cannot pass quietly.
 */
export const CHROMIUM_PATH = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
/** The screen the web app is laid out for. */
export const VIEWPORT = { width: 1366, height: 768 };

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is missing at ${CHROMIUM_PATH}; the browser tests need it: apt-get install chromium (playwright browsers are never downloaded)`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/** A page of the web app and what went wrong in it that no assertion looked at. */
export interface UserPage {
  page: Page;
  /** Uncaught exceptions, console errors, 5xx answers from the hub and parts shown "not available", as text. */
  problems: string[];
}

/**
 * A fresh browser context (own cookies) on the hub's login page. `hash` is the
 * route to open (`#/models`); the app comes back to it after the login.
 */
export async function openLoginPage(browser: Browser, hubUrl: string, hash = ''): Promise<UserPage> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  // A refused request (403, 404) is also logged by Chromium as a console error; those are
  // the hub's answers that the tests provoke and check. Uncaught script errors and 5xx are not.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console error: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 500) problems.push(`${r.status()} from ${r.request().method()} ${r.url()}`);
  });
  // The app shows "not available" for a part whose endpoint answered 404; the hub serves
  // every part, so one showing up means the app asks a wrong path. Watched on every page,
  // also on those no screenshot is taken of.
  await page.exposeFunction('vigilTestNotAvailable', (text: string) => problems.push(`shown as not available: ${text}`));
  await page.addInitScript(WATCH_NOT_AVAILABLE);
  await page.goto(`${hubUrl}/${hash}`);
  await page.getByTestId('login-form').waitFor();
  return { page, problems };
}

/** Signs in through the login form of a page openLoginPage opened. */
export async function submitLogin(page: Page, user: { name: string; password: string }): Promise<void> {
  await page.getByTestId('login-username').fill(user.name);
  await page.getByTestId('login-password').fill(user.password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('header-user-name').waitFor();
  expect(await page.getByTestId('header-user-name').textContent()).toBe(user.name);
}

/** A fresh browser context signed in through the login form, on `hash` (see openLoginPage). */
export async function signIn(browser: Browser, hubUrl: string, user: { name: string; password: string }, hash = ''): Promise<UserPage> {
  const opened = await openLoginPage(browser, hubUrl, hash);
  await submitLogin(opened.page, user);
  return opened;
}

/**
 * Saves the page as `test-artifacts/screenshots/<test>-<page>.png` (the folder
 * is made on first use), after checking what a look at it would show wrong:
 * a part "not available" (the app asked a wrong path), or a page wider than
 * the 1366 px plant screen (a horizontal scroll bar).
 */
export async function screenshot(page: Page, test: string, pageName: string): Promise<string> {
  expect(await page.getByTestId('not-available').allTextContents(), `${pageName}: parts not available`).toEqual([]);
  const width = await page.locator('html').evaluate((html) => ({ scroll: html.scrollWidth, window: html.ownerDocument.defaultView?.innerWidth ?? 0 }));
  expect(width.scroll, `${pageName}: ${width.scroll} px wide in a ${width.window} px window`).toBeLessThanOrEqual(width.window);
  const path = screenshotPath(`${test}-${pageName}`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * How many pixels of a uPlot chart's plotting area (inside the axes, where
 * `.u-over` lies) are drawn in the data line's blue. Grid lines are grey, the
 * episode band and thresholds red and amber: only a plotted series is blue,
 * so an empty or failed plot counts (close to) zero.
 */
export async function plottedPixels(page: Page, chartTestId: string, index = 0): Promise<number> {
  const chart = page.getByTestId(chartTestId).nth(index);
  await chart.locator('canvas').waitFor();
  const blue = await chart.evaluate(bluePixelsInPlotArea);
  if (blue === null) throw new Error(`${chartTestId}: not a uPlot chart (no canvas or .u-over)`);
  return blue;
}

/** A same-origin request from inside the page, with the page's session cookie and, when given, a CSRF token. */
export async function fetchInPage(page: Page, method: string, path: string, body?: unknown, csrfToken?: string): Promise<{ status: number; json: any }> {
  return page.evaluate(
    async ({ method, path, body, csrfToken }) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (csrfToken) headers['x-csrf-token'] = csrfToken;
      const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
      const text = await r.text();
      return { status: r.status, json: text ? JSON.parse(text) : undefined };
    },
    { method, path, body, csrfToken },
  );
}
