import { existsSync } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { expect } from 'vitest';
import { VIEWPORT } from './browser.js';
import { bluePixelsInPlotArea, screenshotPath, WATCH_NOT_AVAILABLE } from './page-checks.js';

/**
 * The web app must work in current Firefox too (issue 6): these tests drive
 * Debian's Firefox ESR through puppeteer-core over WebDriver BiDi.
 * puppeteer-core never downloads a browser; a missing Firefox fails the tests
 * (it does not skip them), so a CI image without it cannot pass quietly.
 */
export const FIREFOX_PATH = '/usr/bin/firefox-esr';
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
  const path = screenshotPath(`firefox-${test}-${pageName}`);
  await page.screenshot({ path, fullPage: true });
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
  const charts = await page.$$(byTestId(chartTestId));
  const blue = charts[index] ? await charts[index].evaluate(bluePixelsInPlotArea) : null;
  return blue ?? 0;
}
