import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshot, signIn } from '../helpers/browser.js';
import { startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { addHubUser, type WebUser } from '../helpers/hub-users.js';
import { connectSync, hello, type RawSyncClient } from '../helpers/raw-sync-client.js';

// A real hub serving the built web app, a real Chromium, and a raw websocket "agent" answering the history request.
const ADMIN: WebUser = { name: 'ada', role: 'admin', password: 'learn-normal-behaviour' };
const TAGS = ['line1.flow', 'line1.temp'];
let hub: HubProcess;
let browser: Browser;
let agent: RawSyncClient;

/** Answers the next history request with 600 samples per tag (100 ms apart) from the requested start. */
async function answerNextRequest(client: RawSyncClient) {
  const request = await client.next('history_request', 20_000);
  request.tags.forEach((tag, t) => {
    const ts = Array.from({ length: 600 }, (_, i) => request.from + i * 100);
    const values = ts.map((_, i) => 10 * (t + 1) + Math.sin(i / 30 + t) + 0.1 * Math.sin(i * 12.9898 + t * 78.233));
    client.send({ type: 'history_chunk', request: request.request, tag, ts, values, quality: ts.map(() => 'good'), last: t === request.tags.length - 1 });
  });
  return request;
}

beforeAll(async () => {
  // dist/web is built once for the run by tests/global-setup.ts.
  hub = await startHubProcess();
  await addHubUser(hub, ADMIN);
  agent = await connectSync(hub.syncUrl, 'gw-web', await hub.addAgent('gw-web'));
  agent.send(hello('gw-web', 'epoch-1'));
  await agent.next('welcome');
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await agent?.close();
  await hub?.stop();
});

describe('Models page: learn normal behaviour', () => {
  it('trains from the chosen gateway’s history, registers the version and deploys it to that gateway', async () => {
    const { page, problems } = await signIn(browser, hub.url, ADMIN, '#/models');
    const form = page.getByTestId('learn-form');
    await form.waitFor();
    // Only online gateways are offered; gw-web is connected.
    await expect.poll(() => page.getByTestId('learn-agent').inputValue()).toBe('gw-web');

    await page.getByTestId('learn-name').fill('');
    await page.getByTestId('learn-submit').click();
    expect(await form.textContent()).toContain('name at least one tag');

    await page.getByTestId('learn-tags').fill(TAGS.join(', '));
    await page.getByTestId('learn-period').fill('100');
    await page.getByTestId('learn-window').fill('10');
    await page.getByTestId('learn-name').fill('line1-web');
    await page.getByTestId('learn-submit').click();
    // The training is a job on the hub: while the gateway has not answered, the form shows the job fetching its history.
    const progress = page.getByTestId('learn-progress');
    await progress.waitFor({ timeout: 10_000 });
    await expect.poll(() => progress.textContent()).toMatch(/^Fetching history: the history of 2 tags from gw-web \(\d+ s\)/);
    const request = await answerNextRequest(agent);
    expect(request.tags).toEqual(TAGS);
    // The default period: the last hour.
    expect(request.to - request.from).toBeGreaterThan(3_500_000);

    const result = page.getByTestId('learn-result');
    await result.waitFor({ timeout: 20_000 });
    expect(await result.textContent()).toMatch(/line1-web 1\.0\.0 registered from 1200 samples of gw-web/);
    expect(await progress.count()).toBe(0);

    // gw-web runs no version of line1-web: the form offers a plain deployment, not a shadow.
    await page.getByTestId('learn-deploy').click();
    await page.getByTestId('learn-deployed').waitFor();
    expect(await page.getByTestId('learn-deployed').textContent()).toMatch(/Deployment \S+: 1\.0\.0 on gw-web/);
    const deploy = await agent.next('deploy', 10_000);
    expect(deploy).toMatchObject({ model: 'line1-web', version: '1.0.0' });
    await screenshot(page, 'admin', 'models-learn');
    expect(problems).toEqual([]);
  }, 60_000);
});
