import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOpcuaPlant, type OpcuaPlant } from '../../agent/demo/opcua-plant.js';
import { eventually, spawnVigil, type VigilProcess } from '../helpers/agent-process.js';
import { fetchInPage, launchChromium, openLoginPage, plottedPixels, screenshot, signIn, submitLogin, type UserPage } from '../helpers/browser.js';
import { sendEpisodes, syntheticEpisode } from '../helpers/episode-fixture.js';
import { api, startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { addHubUser, type WebUser } from '../helpers/hub-users.js';
import { PUMP1_TAGS, pcaPackage } from '../helpers/pca-package.js';
import { LENIENT_MISSING_DATA, agentModels, writeSyncedAgentConfig } from '../helpers/sync-e2e.js';

const MODEL = 'pump1-pca';
/** A real `vigil agent` reading the OPC UA plant: deployed to, shown on the fleet page. */
const AGENT = 'gw-web-line1';
/** Episodes come from this agent over the sync protocol (a real agent's episodes take minutes to happen). */
const EPISODE_AGENT = 'gw-web-line2';
const ADMIN: WebUser = { name: 'alice', role: 'admin', password: 'alice-password-1' };
const OPERATOR: WebUser = { name: 'oscar', role: 'operator', password: 'oscar-password-1' };
const VIEWER: WebUser = { name: 'vera', role: 'viewer', password: 'vera-password-1' };
/** Added by the admin on the Admin page. */
const NEW_USER: WebUser = { name: 'paula', role: 'operator', password: 'paula-password-1' };
const CAUSES = ['Bearing wear', 'Cavitation', 'Sensor fault'];
/** expect.poll gives up after 1 s by default: too short for a page on a busy two-core machine. */
const UI_WAIT = { timeout: 15_000 };

/**
 * The hub's web app in Chromium against a real `vigil hub` process (serving
 * the app built into dist/web) with a real `vigil agent` connected to it:
 * people sign in, answer episodes, deploy, and see the fleet, each with the
 * rights of their role. Screenshots of every page go to
 * test-artifacts/screenshots/. The tests build on each other, in order.
 */
describe('the hub web app in a browser (real hub and agent)', () => {
  let browser: Browser;
  let plant: OpcuaPlant;
  let dir: string;
  let hub: HubProcess;
  let agent: VigilProcess;
  let agentUrl: string;
  let admin: string;
  const pages: UserPage[] = [];
  const now = Date.now();
  const episodes = [
    syntheticEpisode({ agent: EPISODE_AGENT, model: MODEL, version: '1.0.0', start: now - 40 * 60_000, end: now - 32 * 60_000, tags: PUMP1_TAGS, peak: 0.95 }),
    syntheticEpisode({ agent: EPISODE_AGENT, model: MODEL, version: '1.0.0', start: now - 3 * 3_600_000, end: now - 2.9 * 3_600_000, tags: PUMP1_TAGS, peak: 0.9 }),
  ];

  const open = async (user: WebUser, hash = ''): Promise<Page> => {
    const signedIn = await signIn(browser, hub.url, user, hash);
    pages.push(signedIn);
    return signedIn.page;
  };
  const listedIds = (page: Page) => page.getByTestId('episode-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-episode-id')));
  const resolutionOf = async (id: string) => {
    const r = await api(hub.url, `/api/episodes/${encodeURIComponent(id)}`, { token: admin });
    expect(r.status).toBe(200);
    return r.json.resolution as { label: string; cause: string | null; note: string | null; by: string } | null;
  };
  const currentEpisode = (page: Page) => decodeURIComponent(new URL(page.url()).hash.replace(/^#\/episodes\//, ''));
  /** Waits for the page to show this episode (after j/k the previous one stays until the new one loaded), then checks its plots. */
  const everyPlotDrawn = async (page: Page, id: string) => {
    await page.locator(`[data-testid=episode-facts][data-episode-id="${id}"]`).waitFor();
    await expect.poll(() => page.getByTestId('tag-plot').locator('canvas').count(), UI_WAIT).toBe(PUMP1_TAGS.length);
    // uPlot draws in a microtask after creating the canvas (and again on resize): polled, not read once.
    await expect.poll(() => plottedPixels(page, 'score-plot'), UI_WAIT).toBeGreaterThan(100);
    for (let i = 0; i < PUMP1_TAGS.length; i++) await expect.poll(() => plottedPixels(page, 'tag-plot', i), UI_WAIT).toBeGreaterThan(100);
  };

  beforeAll(async () => {
    // First: without Chromium nothing else is worth starting, and the failure says what to install.
    browser = await launchChromium();
    dir = mkdtempSync(join(tmpdir(), 'vigil-browser-'));
    mkdirSync(join(dir, 'hub'));
    // The hub serves <repo>/dist/web (cloud-sync/web-serving/web-dir.ts), built once for the run by tests/global-setup.ts.
    // Each is kept as soon as it runs, so afterAll stops it even when another part failed.
    await Promise.all([
      startOpcuaPlant({ port: 0, pumps: 1, updateIntervalMs: 200 }).then((p) => (plant = p)),
      startHubProcess({ dir: join(dir, 'hub'), sync: { heartbeatMs: 1000, offlineAfterMs: 5000 } }).then((h) => (hub = h)),
    ]);
    let agentToken: string;
    let episodeToken: string;
    [admin, agentToken, episodeToken] = await Promise.all([
      hub.addApiToken('browser-admin', 'admin'),
      hub.addAgent(AGENT, { line: '1' }),
      hub.addAgent(EPISODE_AGENT, { line: '2' }),
      ...[ADMIN, OPERATOR, VIEWER].map((u) => addHubUser(hub, u)),
    ]);

    const file = join(dir, `${MODEL}-1.0.0.vmodel`);
    writeFileSync(file, await pcaPackage({ name: MODEL, version: '1.0.0', tags: PUMP1_TAGS, samplePeriodMs: 100, warn: 1e9, manifest: { missingData: LENIENT_MISSING_DATA } }));
    const push = spawnVigil(['model', 'push', file], { VIGIL_HUB_URL: hub.url, VIGIL_HUB_TOKEN: admin });
    const config = writeSyncedAgentConfig(dir, { id: AGENT, endpoint: plant.endpoint, hubUrl: hub.url.replace(/^http/, 'ws'), token: agentToken, publicKeyPem: (await api(hub.url, '/api/signing-key')).text });
    agent = spawnVigil(['agent', '--config', config]);
    const [pushed, running] = await Promise.all([
      push.exited,
      agent.waitForLog('agent running', 60_000),
      sendEpisodes(hub, EPISODE_AGENT, episodeToken, episodes),
      api(hub.url, '/api/causes', { token: admin, method: 'PUT', body: { causes: CAUSES } }).then((r) => expect(r.status).toBe(200)),
    ]);
    if (pushed !== 0) throw new Error(`vigil model push exited ${pushed}:\n${push.stdout()}\n${push.stderr()}`);
    agentUrl = String(running.http);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    agent?.child.kill('SIGTERM');
    await agent?.exited;
    await hub?.stop(true);
    await plant?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    const opened = pages.splice(0);
    await Promise.all(opened.map((p) => p.page.context().close()));
    // Whatever went wrong in a page (a script error, a 5xx) without failing an assertion fails the test here.
    expect(opened.flatMap((p) => p.problems)).toEqual([]);
  });

  it('an operator opens an episode, sees its plots drawn and answers it by clicking and by keyboard; the API has the answers by name', async () => {
    const page = await open(OPERATOR);
    await expect.poll(() => page.getByTestId('episode-row').count(), UI_WAIT).toBe(episodes.length);
    const listed = await listedIds(page);
    expect(listed.sort()).toEqual(episodes.map((e) => e.id).sort());
    // The start page shows the digest the hub sends to its webhook: every episode here waits for an answer.
    const digest = (await fetchInPage(page, 'GET', '/api/digest')).json as { waiting: number; byModel: Array<{ model: string; waiting: number }> };
    expect(digest.waiting).toBe(episodes.length);
    await expect.poll(() => page.getByTestId('digest-text').textContent(), UI_WAIT).toMatch(new RegExp(`^${episodes.length} episodes wait for an answer`));
    for (const m of digest.byModel) expect(await page.getByTestId('digest').textContent()).toContain(`${m.model}: ${m.waiting}`);
    await screenshot(page, 'operator', 'episodes');

    await page.getByTestId('episode-row').first().click();
    await page.waitForURL(/#\/episodes\/./);
    const first = currentEpisode(page);
    expect(listed).toContain(first);
    await everyPlotDrawn(page, first);
    await screenshot(page, 'operator', 'episode');

    // Clicking: real problem, a cause from the admin's list, a note.
    await page.getByTestId('resolve-real').click();
    await page.getByTestId('answer-cause-select').selectOption('Cavitation');
    await page.getByTestId('answer-note').fill('Suction valve half closed');
    await page.getByTestId('resolve-submit').click();
    await page.getByTestId('answer-saved').waitFor();
    await page.locator('[data-testid=resolution-summary][data-label=real]').waitFor();
    expect(await page.getByTestId('resolution-summary').textContent()).toContain(OPERATOR.name);
    expect(await resolutionOf(first)).toMatchObject({ label: 'real', cause: 'Cavitation', note: 'Suction valve half closed', by: OPERATOR.name });
    await screenshot(page, 'operator', 'episode-answered');

    // Keyboard: j to the next episode, r for real, the cause, Esc out of the field, Enter submits.
    await page.keyboard.press('j');
    await expect.poll(() => currentEpisode(page), UI_WAIT).not.toBe(first);
    const second = currentEpisode(page);
    expect(listed).toContain(second);
    await everyPlotDrawn(page, second);
    await page.keyboard.press('r');
    await page.getByTestId('answer-cause-select').selectOption('Bearing wear');
    await page.getByTestId('answer-cause-select').focus();
    await page.keyboard.press('Escape');
    await page.keyboard.press('Enter');
    await page.getByTestId('answer-saved').waitFor();
    expect(await resolutionOf(second)).toMatchObject({ label: 'real', cause: 'Bearing wear', by: OPERATOR.name });

    // Resolved episodes stay searchable: the Resolved tab, searched by the first one's cause, which the hub matches (q).
    await page.getByTestId('nav-episodes').click();
    await page.getByTestId('tab-resolved').click();
    await expect.poll(() => listedIds(page).then((ids) => ids.sort()), UI_WAIT).toEqual([first, second].sort());
    const searched = page.waitForResponse((r) => r.url().includes('/api/episodes?') && new URL(r.url()).searchParams.get('q') === 'cavitation' && r.ok());
    await page.getByTestId('episode-search').fill('cavitation');
    const asked = new URL((await searched).url()).searchParams;
    expect(asked.get('status')).toBe('resolved');
    await expect.poll(() => listedIds(page), UI_WAIT).toEqual([first]);
    expect(await page.locator(`[data-testid=episode-row][data-episode-id="${second}"]`).count()).toBe(0);
    await screenshot(page, 'operator', 'episodes-resolved-search');
  }, 60_000);

  it('an admin deploys a pushed version from the Models page; the agent reports it active in the page, the API and its own /models', async () => {
    const page = await open(ADMIN, '#/models');
    await page.getByTestId('deploy-form').waitFor();
    await page.getByTestId('deploy-model').selectOption(MODEL);
    await page.getByTestId('deploy-version').selectOption('1.0.0');
    await page.locator(`[data-testid=deploy-agent][value="${AGENT}"]`).check();
    await page.getByTestId('deploy-submit').click();
    const started = (await page.getByTestId('deploy-started').textContent()) ?? '';
    const id = /Deployment (\S+) started/.exec(started)?.[1];
    expect(id, started).toBeDefined();

    // The deployment's gateways, refreshed by the page, until the agent reports the version active.
    await page.locator(`[data-testid=deployment-row][data-deployment-id="${id}"]`).click();
    await page.locator(`[data-testid=deployment-target-row][data-agent-id="${AGENT}"][data-status=active]`).waitFor({ timeout: 45_000 });
    await page.locator(`[data-testid=deployment-row][data-deployment-id="${id}"][data-state=completed]`).waitFor({ timeout: 15_000 });

    const view = (await api(hub.url, `/api/deployments/${id}`, { token: admin })).json;
    expect(view).toMatchObject({ model: MODEL, version: '1.0.0', state: 'completed', createdBy: ADMIN.name });
    expect(view.targets).toEqual([expect.objectContaining({ agent: AGENT, status: 'active' })]);
    expect((await agentModels(agentUrl)).find((m) => m.name === MODEL)).toMatchObject({ active: '1.0.0' });

    // What the gateway runs reaches the hub with its next heartbeat; a reload shows it on the page.
    await eventually(async () => {
      const seen = (await api(hub.url, `/api/agents/${AGENT}`, { token: admin })).json;
      return (seen.agent ?? seen).models?.some((m: { name: string; active: string }) => m.name === MODEL && m.active === '1.0.0') ? true : undefined;
    }, 'the hub to see the agent run 1.0.0');
    await page.reload();
    await expect.poll(() => page.locator(`[data-testid=gateway-models-row][data-agent-id="${AGENT}"] [data-model="${MODEL}"]`).textContent(), UI_WAIT).toContain('1.0.0');
    expect(await page.locator(`[data-testid=model-version-row][data-version="1.0.0"] [data-testid=running-on]`).textContent()).toContain(`active on ${AGENT}`);

    // Per version: episodes per day, shares answered real / normal / at all (as the API computes them), and the score distribution.
    const perf = ((await api(hub.url, `/api/models/performance?model=${MODEL}`, { token: admin })).json.versions as Array<Record<string, number | string>>).find((v) => v.version === '1.0.0');
    expect(perf, 'the API has performance figures for 1.0.0').toBeDefined();
    const pct = (share: number | string) => `${Math.round(Number(share) * 100)}%`;
    const cells = page.locator(`[data-testid=model-version-row][data-model="${MODEL}"][data-version="1.0.0"] > td`);
    expect(await cells.nth(3).textContent()).toBe(Number(perf!.episodesPerDay).toFixed(1));
    expect(await cells.nth(4).textContent()).toBe(pct(perf!.realShare!));
    expect(await cells.nth(5).textContent()).toBe(pct(perf!.normalShare!));
    expect(await cells.nth(6).textContent()).toBe(`${pct(perf!.resolvedShare!)} of ${perf!.episodes}`);
    // The agent scores 1.0.0 every 100 ms: its distribution appears once the hub has scores (the page refreshes it).
    await eventually(async () => ((await api(hub.url, `/api/models/${MODEL}/versions/1.0.0/scores/histogram`, { token: admin })).json.total > 0 ? true : undefined), 'scores of 1.0.0 on the hub');
    await page.reload();
    await page.locator(`[data-testid=score-histogram][data-model="${MODEL}"][data-version="1.0.0"] .histogram-bar`).first().waitFor({ timeout: 30_000 });
    await screenshot(page, 'admin', 'models');
  }, 75_000);

  it('a viewer can look but not answer or deploy: controls disabled or absent, forged requests with the session refused 403', async () => {
    const id = episodes[0]!.id;
    const before = await resolutionOf(id);
    const page = await open(VIEWER, `#/episodes/${encodeURIComponent(id)}`);
    await page.getByTestId('resolve-disabled-reason').waitFor();
    await everyPlotDrawn(page, id);
    for (const control of ['resolve-real', 'resolve-normal', 'resolve-unsure', 'resolve-submit', 'answer-note']) expect(await page.getByTestId(control).isDisabled(), control).toBe(true);
    await screenshot(page, 'viewer', 'episode');

    // The shortcuts do nothing either: no answer picked, no request sent.
    const posts: string[] = [];
    page.on('request', (r) => {
      if (r.method() !== 'GET') posts.push(r.url());
    });
    await page.keyboard.press('u');
    await page.keyboard.press('Enter');
    expect(await page.getByTestId('resolve-unsure').getAttribute('aria-checked')).toBe('false');
    expect(posts).toEqual([]);

    // A request written by hand with the viewer's own session and CSRF token: the hub says no.
    const { csrfToken } = (await fetchInPage(page, 'GET', '/api/session')).json;
    const forgedAnswer = await fetchInPage(page, 'POST', `/api/episodes/${encodeURIComponent(id)}/resolution`, { label: 'normal' }, csrfToken);
    expect(forgedAnswer.status).toBe(403);
    expect(forgedAnswer.json.error.code).toBe('VIGIL_API_FORBIDDEN');
    expect(await resolutionOf(id)).toEqual(before);

    await page.getByTestId('nav-models').click();
    await page.locator(`[data-testid=model-card][data-model="${MODEL}"]`).waitFor();
    await page.getByTestId('deployments-table').waitFor();
    expect(await page.getByTestId('deploy-form').count()).toBe(0);
    expect(await page.getByTestId('rollback-button').count()).toBe(0);
    await screenshot(page, 'viewer', 'models');
    const deploymentsBefore = (await api(hub.url, '/api/deployments', { token: admin })).json.deployments.length;
    const forgedDeploy = await fetchInPage(page, 'POST', '/api/deployments', { model: MODEL, version: '1.0.0', agents: [AGENT] }, csrfToken);
    expect(forgedDeploy.status).toBe(403);
    expect(forgedDeploy.json.error.code).toBe('VIGIL_API_FORBIDDEN');
    expect((await api(hub.url, '/api/deployments', { token: admin })).json.deployments.length).toBe(deploymentsBefore);
    expect(posts.filter((u) => !u.endsWith('/api/deployments') && !u.includes('/resolution'))).toEqual([]);
  }, 45_000);

  it('the Fleet page shows the connected agent online with its health, sources, tags and model', async () => {
    // Every tag live once the plant's values flow: then the page must show no problem at all.
    await eventually(async () => {
      const seen = (await api(hub.url, `/api/agents/${AGENT}`, { token: admin })).json;
      const v = seen.agent ?? seen;
      return v.online && v.health && v.health.tagsLive === v.health.tagsConfigured ? true : undefined;
    }, 'the hub to see every tag of the agent live');
    const page = await open(OPERATOR, '#/fleet');
    const row = page.locator(`[data-testid=fleet-row][data-agent-id="${AGENT}"]`);
    await row.waitFor();
    expect(await row.getByTestId('fleet-presence').textContent()).toContain('online');
    expect(await row.getAttribute('data-problems')).toBe('');
    expect(await row.getByTestId('fleet-problems').textContent()).toBe('ok');
    const cells = await row.locator('td').allTextContents();
    expect(cells).toContain('1/1'); // sources connected / configured
    expect(cells).toContain(`${PUMP1_TAGS.length}/${PUMP1_TAGS.length}`); // tags live / configured
    expect(cells.join(' ')).toContain(MODEL);
    expect(cells.join(' ')).toContain('1.0.0');
    // The episode sender came and went: listed too, highlighted as offline.
    const gone = page.locator(`[data-testid=fleet-row][data-agent-id="${EPISODE_AGENT}"]`);
    await gone.waitFor();
    expect((await gone.getAttribute('data-problems'))?.split(' ')).toContain('offline');
    expect(await gone.getAttribute('class')).toContain('row-problem');
    expect(await gone.getByTestId('fleet-presence').textContent()).toContain('offline');
    expect(await gone.getByTestId('fleet-problems').textContent()).toMatch(/offline, last seen/);
    await screenshot(page, 'operator', 'fleet');
  }, 45_000);

  it('an admin signs in, adds a cause and a user on the Admin page; the API has both and the new user can sign in', async () => {
    const login = await openLoginPage(browser, hub.url, '#/admin');
    pages.push(login);
    const page = login.page;
    await screenshot(page, 'anyone', 'login');
    await submitLogin(page, ADMIN);
    await page.getByTestId('causes-editor').getByTestId('cause-item').first().waitFor();
    expect(await page.getByTestId('cause-item').allTextContents()).toEqual(CAUSES.map((c) => `${c}×`));

    await page.getByTestId('cause-add-text').fill('Seal leak');
    await page.getByTestId('cause-add').click();
    await page.getByTestId('causes-save').click();
    await page.getByTestId('causes-editor').getByText('Saved.').waitFor();
    expect((await api(hub.url, '/api/causes', { token: admin })).json.causes).toEqual([...CAUSES, 'Seal leak']);

    await page.getByTestId('user-add-name').fill(NEW_USER.name);
    await page.getByTestId('user-add-role').selectOption(NEW_USER.role);
    await page.getByTestId('user-add-password').fill(NEW_USER.password);
    await page.getByTestId('user-add-submit').click();
    await page.locator(`[data-testid=user-row][data-user="${NEW_USER.name}"]`).waitFor(UI_WAIT);
    const users = (await api(hub.url, '/api/users', { token: admin })).json.users as Array<{ name: string; role: string; disabled: boolean }>;
    expect(users.find((u) => u.name === NEW_USER.name)).toMatchObject({ role: NEW_USER.role, disabled: false });
    await screenshot(page, 'admin', 'admin');

    // The password the admin typed is the one that works, with the role picked.
    const newcomer = await open(NEW_USER);
    expect(await newcomer.getByTestId('header-user-role').textContent()).toBe(NEW_USER.role);
    expect(await newcomer.getByTestId('nav-admin').count()).toBe(0);
  }, 45_000);
});
