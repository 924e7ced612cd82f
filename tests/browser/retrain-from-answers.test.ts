import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packTrainedModel } from '../../cloud-sync/training/trained-package.js';
import { trainModel } from '../../cloud-sync/training/train-model.js';
import type { Episode } from '../../shared/episode.js';
import { launchChromium, screenshot, signIn } from '../helpers/browser.js';
import { sendEpisodes } from '../helpers/episode-fixture.js';
import { api, startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { addHubUser, type WebUser } from '../helpers/hub-users.js';

// A real hub serving the built web app and a real Chromium: an admin retrains a version from its answered episodes on the Models page.
const ADMIN: WebUser = { name: 'ada', role: 'admin', password: 'retrain-from-answers' };
const TAGS = ['line1.flow', 'line1.pressure', 'line1.temp'];
const AGENT = 'gw-web-retrain';
const T0 = Date.UTC(2026, 2, 9, 6, 0, 0);
let hub: HubProcess;
let browser: Browser;

/** The pumped line, one sample a second; from `shiftFrom` (s) on the pressure runs 0.15 higher for the same flow (as in tests/integration/hub-retrain.test.ts). */
function plant(seconds: number, startSecond: number, seed: number, shiftFrom = Infinity): Array<{ tag: string; ts: number[]; values: number[] }> {
  let state = seed >>> 0;
  const uniform = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) + 1) / 4294967297;
  const noise = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const out = TAGS.map((tag) => ({ tag, ts: [] as number[], values: [] as number[] }));
  for (let i = 0; i < seconds; i++) {
    const t = startSecond + i;
    const flow = 50 + 5 * Math.sin((2 * Math.PI * t) / 600) + 0.5 * noise();
    const values = [flow, 2 + 0.04 * flow + 0.05 * noise() + (t >= shiftFrom ? 0.15 : 0), 60 + 0.5 * Math.sin((2 * Math.PI * t) / 1800) + 0.1 * noise()];
    out.forEach((s, k) => {
      s.ts.push(T0 + t * 1000 + 137);
      s.values.push(values[k]!);
    });
  }
  return out;
}

/** An episode with 300 s of context and 300 s at the new operating point, its snapshot holding every sample. */
function episodeAt(startSecond: number, seed: number): Episode {
  const start = T0 + (startSecond + 300) * 1000;
  const series = plant(600, startSecond, seed, startSecond + 300);
  return {
    id: `${AGENT}:line1-web:${start}`,
    revision: 1,
    agent: AGENT,
    model: 'line1-web',
    version: '1.0.0',
    start,
    end: start + 300_000,
    state: 'closed',
    peakScore: 9,
    meanScore: 6,
    windows: 50,
    topTags: [{ tag: 'line1.pressure', share: 0.9 }],
    thresholds: { warn: 1, alarm: 2 },
    snapshot: series.map((s) => ({ tag: s.tag, ts: s.ts, values: s.values, quality: s.ts.map(() => 'good' as const) })),
  };
}

beforeAll(async () => {
  // dist/web is built once for the run by tests/global-setup.ts.
  hub = await startHubProcess();
  await addHubUser(hub, ADMIN);
  const admin = await hub.addApiToken('admin-ada', 'admin');
  const normal = plant(3600, 0, 1);
  const trained = trainModel({
    name: 'line1-web',
    version: '1.0.0',
    tags: TAGS,
    samplePeriodMs: 1000,
    windowLength: 30,
    hop: 5,
    normal: [{ source: { kind: 'csv', name: 'synthetic' }, series: normal.map((s) => ({ tag: s.tag, ts: Float64Array.from(s.ts), values: Float64Array.from(s.values) })) }],
  });
  const upload = await fetch(`${hub.url}/api/models`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/octet-stream' }, body: (await packTrainedModel(trained)).bytes });
  expect(upload.status).toBe(201);
  const { token } = (await api(hub.url, '/api/agents', { token: admin, body: { id: AGENT } })).json;
  const episodes = [episodeAt(4000, 11), episodeAt(6000, 12)];
  await sendEpisodes(hub, AGENT, token, episodes);
  for (const e of episodes) expect((await api(hub.url, `/api/episodes/${encodeURIComponent(e.id)}/resolution`, { token: admin, body: { label: 'normal' } })).status).toBe(200);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await hub?.stop();
});

describe('Models page: retrain from answers', () => {
  it('shows the retraining’s progress, then the new version, how its data was read and the comparison', async () => {
    const { page, problems } = await signIn(browser, hub.url, ADMIN, '#/models');
    await page.getByTestId('retrain-open').click();
    await page.getByTestId('retrain-submit').click();
    const progress = page.getByTestId('retrain-progress');
    await progress.waitFor({ timeout: 10_000 });
    expect(await progress.textContent()).toMatch(/^(Fetching history|Training|Registering): .+ \(\d+ s\)/);

    const result = page.getByTestId('retrain-result');
    await result.waitFor({ timeout: 30_000 });
    expect(await result.textContent()).toContain('line1-web 1.0.1 registered, learnt from 2 answers.');
    expect(await progress.count()).toBe(0);
    // The agent is offline: both answers come from their snapshots; the parent's CSV is not on the hub.
    const data = page.getByTestId('retrain-data');
    expect(await data.textContent()).toContain("Answers' data: 0 from the gateways' raw history, 2 only from the episodes' downsampled snapshots. The parent's data read again: 0 of 1 source.");
    expect(await data.locator('li').allTextContents()).toEqual(['csv synthetic: missing — not read again: the hub does not keep the CSV files a model was trained from']);
    expect(await page.getByTestId('retrain-comparison').textContent()).toMatch(/^Alarm windows on the answered episodes' data: 1\.0\.0 \d+ of \d+, 1\.0\.1 \d+ of \d+\.$/);
    await screenshot(page, 'admin', 'models-retrain');
    expect(problems).toEqual([]);
  }, 60_000);
});
