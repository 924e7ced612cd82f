import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnVigil } from '../helpers/agent-process.js';
import { VIEWPORT } from '../helpers/browser.js';
import { sendEpisodes, syntheticEpisode } from '../helpers/episode-fixture.js';
import { byTestId, launchFirefox, openLoginPage, pageSize, plottedPixels, screenshot, submitLogin, type FirefoxPage } from '../helpers/firefox.js';
import { api, startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { addHubUser, type WebUser } from '../helpers/hub-users.js';
import { PUMP1_TAGS, pcaPackage } from '../helpers/pca-package.js';

const MODEL = 'pump1-pca';
const EPISODE_AGENT = 'gw-firefox-line1';
const OPERATOR: WebUser = { name: 'olga', role: 'operator', password: 'olga-password-1' };
/** expect.poll gives up after 1 s by default: too short for a page on a busy two-core machine. */
const UI_WAIT = { timeout: 15_000 };

/**
 * The hub's web app in Firefox (Debian's Firefox ESR over WebDriver BiDi)
 * against a real `vigil hub` process, at the 1366×768 plant screen: the
 * Chromium tests (hub-web-app.test.ts) cover every flow; these check that the
 * same app signs in, lists, plots, answers and lays out its pages in the
 * other browser the issue names. Screenshots go to
 * test-artifacts/screenshots/firefox-*.png.
 */
describe('the hub web app in Firefox (real hub)', () => {
  let browser: Browser;
  let hub: HubProcess;
  let dir: string;
  let admin: string;
  const pages: FirefoxPage[] = [];
  const now = Date.now();
  const episode = syntheticEpisode({ agent: EPISODE_AGENT, model: MODEL, version: '1.0.0', start: now - 40 * 60_000, end: now - 32 * 60_000, tags: PUMP1_TAGS, peak: 0.95 });

  const open = async (user: WebUser, hash = ''): Promise<Page> => {
    const opened = await openLoginPage(browser, hub.url, hash);
    pages.push(opened);
    await submitLogin(opened.page, user);
    return opened.page;
  };
  const listedIds = (page: Page) => page.$$eval(byTestId('episode-row'), (rows) => rows.map((r) => r.getAttribute('data-episode-id')));

  beforeAll(async () => {
    // First: without Firefox nothing else is worth starting, and the failure says what to install.
    browser = await launchFirefox();
    dir = mkdtempSync(join(tmpdir(), 'vigil-firefox-'));
    // The hub serves <repo>/dist/web, built once for the run by tests/global-setup.ts.
    hub = await startHubProcess();
    let episodeToken: string;
    [admin, episodeToken] = await Promise.all([hub.addApiToken('firefox-admin', 'admin'), hub.addAgent(EPISODE_AGENT, { line: '1' }), addHubUser(hub, OPERATOR)]);
    // A model in the registry, so the Models page has a model card (and its performance and histogram) to lay out.
    const file = join(dir, `${MODEL}-1.0.0.vmodel`);
    writeFileSync(file, await pcaPackage({ name: MODEL, version: '1.0.0', tags: PUMP1_TAGS, samplePeriodMs: 100, warn: 1e9 }));
    const push = spawnVigil(['model', 'push', file], { VIGIL_HUB_URL: hub.url, VIGIL_HUB_TOKEN: admin });
    const [pushed] = await Promise.all([push.exited, sendEpisodes(hub, EPISODE_AGENT, episodeToken, [episode])]);
    if (pushed !== 0) throw new Error(`vigil model push exited ${pushed}:\n${push.stdout()}\n${push.stderr()}`);
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    const opened = pages.splice(0);
    await Promise.all(opened.map((p) => p.page.browserContext().close()));
    // Whatever went wrong in a page (a script error, a 5xx) without failing an assertion fails the test here.
    expect(opened.flatMap((p) => p.problems)).toEqual([]);
  });

  it('an operator signs in through the form, sees the episode listed, its plots drawn, answers normal operation; the API has the answer', async () => {
    const page = await open(OPERATOR);
    expect((await pageSize(page)).window).toEqual(VIEWPORT);
    await expect.poll(() => listedIds(page), UI_WAIT).toEqual([episode.id]);
    await screenshot(page, 'operator', 'episodes');

    await page.click(byTestId('episode-row'));
    await page.waitForSelector(`[data-testid=episode-facts][data-episode-id="${episode.id}"]`);
    expect(decodeURIComponent(new URL(page.url()).hash)).toBe(`#/episodes/${episode.id}`);
    await expect.poll(() => page.$$eval(`${byTestId('tag-plot')} canvas`, (c) => c.length), UI_WAIT).toBe(PUMP1_TAGS.length);
    // uPlot draws in a microtask after creating the canvas (and again on resize): polled, not read once.
    await expect.poll(() => plottedPixels(page, 'score-plot'), UI_WAIT).toBeGreaterThan(100);
    for (let i = 0; i < PUMP1_TAGS.length; i++) await expect.poll(() => plottedPixels(page, 'tag-plot', i), UI_WAIT).toBeGreaterThan(100);
    await screenshot(page, 'operator', 'episode');

    await page.click(byTestId('resolve-normal'));
    await page.waitForSelector(`${byTestId('resolve-normal')}[aria-checked="true"]`);
    await page.type(byTestId('answer-note'), 'Planned flow change');
    await page.click(byTestId('resolve-submit'));
    await page.waitForSelector(byTestId('answer-saved'));
    await page.waitForSelector(`[data-testid=resolution-summary][data-label=normal]`);
    const r = await api(hub.url, `/api/episodes/${encodeURIComponent(episode.id)}`, { token: admin });
    expect(r.status).toBe(200);
    expect(r.json.resolution).toMatchObject({ label: 'normal', cause: null, note: 'Planned flow change', by: OPERATOR.name });
    await screenshot(page, 'operator', 'episode-answered');
  }, 60_000);

  it('the Fleet and Models pages show every part and fit the 1366 px window', async () => {
    const page = await open(OPERATOR, '#/fleet');
    await page.waitForSelector(`[data-testid=fleet-row][data-agent-id="${EPISODE_AGENT}"]`);
    await screenshot(page, 'operator', 'fleet');

    await page.click(byTestId('nav-models'));
    await page.waitForSelector(`[data-testid=model-card][data-model="${MODEL}"]`);
    await page.waitForSelector(byTestId('gateway-models-table'));
    // Every request the page made has answered (performance, histogram, deployments): a part the hub does not serve would show by now.
    await page.waitForNetworkIdle({ idleTime: 500 });
    await screenshot(page, 'operator', 'models');
  }, 45_000);
});
