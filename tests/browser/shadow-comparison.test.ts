import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshot, signIn } from '../helpers/browser.js';
import { api, startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { addHubUser, type WebUser } from '../helpers/hub-users.js';
import { enrolAgent, pairedScores, sendScores, uploadVersions } from '../helpers/shadow-scores.js';

// A real hub serving the built web app, a real Chromium, and scores sent over the sync websocket as an agent sends them.
const VIEWER: WebUser = { name: 'vera', role: 'viewer', password: 'shadow-comparison' };
const MODEL = 'pump-pca';
const T0 = Date.UTC(2026, 2, 9, 6, 0, 0);
let hub: HubProcess;
let browser: Browser;
let shadowId: string;
let activateId: string;

beforeAll(async () => {
  // dist/web is built once for the run by tests/global-setup.ts.
  hub = await startHubProcess();
  await addHubUser(hub, VIEWER);
  const admin = await hub.addApiToken('admin-ada', 'admin');
  await uploadVersions(hub, admin, MODEL, ['1.0.0', '1.1.0']);
  const token = await enrolAgent(hub, admin, 'gw1');
  await enrolAgent(hub, admin, 'gw2');
  const shadow = await api(hub.url, '/api/deployments', { token: admin, body: { model: MODEL, version: '1.1.0', agents: ['gw1'], shadowMs: 86_400_000 } });
  expect(shadow.status, shadow.text).toBe(201);
  shadowId = shadow.json.id;
  const activate = await api(hub.url, '/api/deployments', { token: admin, body: { model: MODEL, version: '1.0.0', agents: ['gw2'] } });
  expect(activate.status, activate.text).toBe(201);
  activateId = activate.json.id;
  // 100 windows a minute apart: the candidate alarms on 2 of them, the active version on 10.
  const scores = pairedScores({
    model: MODEL,
    active: '1.0.0',
    candidate: '1.1.0',
    t0: T0,
    stepMs: 60_000,
    n: 100,
    activeLevel: (i) => (i % 10 === 0 ? 'alarm' : 'normal'),
    candidateLevel: (i) => (i === 40 || i === 80 ? 'alarm' : i === 41 ? 'warn' : 'normal'),
  });
  await sendScores(hub, 'gw1', token, scores);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await hub?.stop();
});

describe('Models page: a shadow deployment compared with the active version', () => {
  it('shows a viewer both versions’ alarms on the same windows when the shadow deployment is opened, and nothing of the kind for an activation', async () => {
    const { page, problems } = await signIn(browser, hub.url, VIEWER, '#/models');
    const shadowRow = page.locator(`[data-testid="deployment-row"][data-deployment-id="${shadowId}"]`);
    await shadowRow.click();
    const text = page.getByTestId('shadow-comparison-text');
    await text.waitFor();
    // 99 minutes between the first and last window end: 2 alarms are 29.09 a day, 10 are 145.45.
    expect(await text.textContent()).toBe('Same 100 windows: candidate 2 alarms (29.09/day) vs active 10 alarms (145.45/day)');
    expect(await page.getByTestId('shadow-comparison-detail').textContent()).toBe(
      'Candidate 1.1.0, active 1.0.0; warn windows 1 vs 0; 1 h 39 min of event time on 1 of 1 gateways.',
    );
    expect(await page.getByTestId('shadow-comparison-capped').count()).toBe(0);
    await page.getByTestId('deployment-targets').waitFor();
    await screenshot(page, 'viewer', 'models-shadow-comparison');

    // An activation has nothing to compare: its row opens the gateways only.
    await page.locator(`[data-testid="deployment-row"][data-deployment-id="${activateId}"]`).click();
    await page.locator('[data-testid="deployment-target-row"][data-agent-id="gw2"]').waitFor();
    expect(await page.getByTestId('shadow-comparison').count()).toBe(0);
    expect(problems).toEqual([]);
  }, 60_000);
});
