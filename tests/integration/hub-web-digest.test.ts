import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiToken } from '../../cloud-sync/auth/api-token-issue.js';
import { DigestSchema, WebSchema, type HubConfig } from '../../cloud-sync/config/hub-config-schema.js';
import { DIGEST_META_KEY, type DigestScheduleState } from '../../cloud-sync/digest/digest-scheduler.js';
import { postWebhook } from '../../cloud-sync/digest/post-webhook.js';
import { startHub, type RunningHub } from '../../cloud-sync/start-hub.js';
import type { Episode } from '../../shared/episode.js';
import { createLogger } from '../../shared/logger.js';
import { eventually } from '../helpers/agent-process.js';

/**
 * The digest of episodes waiting for an answer: GET /api/digest, and the
 * scheduler POSTing it to a real local webhook on schedule (every 1.2 s here),
 * counting and logging failures, remembering its last run across a restart.
 */

const EVERY_MINUTES = 0.02;
const T0 = Date.UTC(2025, 4, 1, 6);

function episode(model: string, start: number, peakScore: number): Episode {
  return {
    id: `gw-dig:${model}:${start}`,
    revision: 1,
    agent: 'gw-dig',
    model,
    version: '1.0.0',
    start,
    end: null,
    state: 'open',
    peakScore,
    meanScore: peakScore / 2,
    windows: 4,
    topTags: [{ tag: 'pump.temp', share: 0.9 }],
    thresholds: { warn: 1, alarm: 2 },
    snapshot: [{ tag: 'pump.temp', ts: [start], values: [80], quality: ['good'] }],
  };
}

const warnOld = episode('pump', T0, 1.5);
const alarmNew = episode('pump', T0 + 60_000, 2.5);
const alarmFan = episode('fan', T0 + 30_000, 3);
const resolvedOne = episode('fan', T0 + 90_000, 3);

let root: string;
let webhook: Server;
let webhookUrl: string;
let webhookStatus = 200;
const received: any[] = [];
const logLines: string[] = [];
let hub: RunningHub | undefined;

function hubConfig(every: number): HubConfig {
  return {
    file: join(root, 'hub.yaml'),
    hub: { id: 'digest-hub', dataDir: join(root, 'data') },
    http: { host: '127.0.0.1', port: 0, maxBodyBytes: 1024 * 1024 },
    storage: { type: 'lmdb' },
    sync: { heartbeatMs: 10_000, offlineAfterMs: 35_000, maxSkewMs: 5000, maxQueuedBatches: 8 },
    log: { level: 'info' },
    web: WebSchema.parse({ publicUrl: 'https://hub.plant.example:8720' }),
    digest: DigestSchema.parse({ every, webhookUrl, maxEpisodes: 2 }),
  };
}

async function start(every: number): Promise<RunningHub> {
  const log = createLogger({ level: 'info', pretty: false }, { write: (line: string) => void logLines.push(line) });
  hub = await startHub(hubConfig(every), log, { webDir: join(root, 'web') });
  return hub;
}

async function metric(result: string): Promise<number> {
  const text = await (await fetch(`${hub!.url}/metrics`)).text();
  return Number(new RegExp(`^vigil_hub_digest_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'vigil-hub-digest-'));
  webhook = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      received.push({ method: req.method, contentType: req.headers['content-type'], body: JSON.parse(body), status: webhookStatus });
      res.writeHead(webhookStatus).end(webhookStatus === 200 ? 'ok' : 'receiver broken');
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hooks/secret-path-123`;

  const running = await start(EVERY_MINUTES);
  // Well inside the first period (1.2 s): the first digest sees all of these.
  const records = [warnOld, alarmNew, alarmFan, resolvedOne].map((body, i) => ({ seq: i + 1, at: body.start, body }));
  await running.storage.ingest('gw-dig', 'e1', 'episodes', records, Date.now());
  await running.storage.resolveEpisode(resolvedOne.id, { label: 'normal', cause: null, note: null, by: 'anna', at: Date.now() });
});

afterAll(async () => {
  await hub?.stop();
  await new Promise((r) => webhook?.close(r));
  rmSync(root, { recursive: true, force: true });
});

describe('GET /api/digest', () => {
  it('counts the waiting episodes per model and lists the most severe first, for any viewer', async () => {
    expect((await fetch(`${hub!.url}/api/digest`)).status).toBe(401);
    const { token } = await issueApiToken(hub!.storage, 'reader', 'viewer');
    const response = await fetch(`${hub!.url}/api/digest`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    const digest: any = await response.json();
    expect(digest).toMatchObject({ waiting: 3, byModel: [{ model: 'pump', waiting: 2 }, { model: 'fan', waiting: 1 }], oldestWaitingSince: T0 });
    expect(Math.abs(digest.generatedAt - Date.now())).toBeLessThan(5000);
    // maxEpisodes 2: the two alarms, newest first; the warn is counted but not listed.
    expect(digest.episodes.map((e: Episode) => e.id)).toEqual([alarmNew.id, alarmFan.id]);
    expect(digest.episodes[0]).toMatchObject({ severity: 'alarm', peakScore: 2.5, topTags: [{ tag: 'pump.temp', share: 0.9 }], firstReceivedAt: expect.any(Number) });
    expect(digest.episodes[0].snapshot).toBeUndefined();
    expect(digest.episodes[0].url).toBeUndefined();
  });
});

describe('the digest webhook', () => {
  it('receives the digest on schedule with the hub id and links into the web app', async () => {
    const first = await eventually(async () => received[0], 'the first digest', 5000);
    expect(first.method).toBe('POST');
    expect(first.contentType).toBe('application/json');
    expect(first.body).toMatchObject({ hub: 'digest-hub', url: 'https://hub.plant.example:8720/#/episodes', waiting: 3, oldestWaitingSince: T0 });
    expect(first.body.episodes).toHaveLength(2);
    expect(first.body.episodes[0]).toMatchObject({ id: alarmNew.id, severity: 'alarm', url: `https://hub.plant.example:8720/#/episodes/${encodeURIComponent(alarmNew.id)}` });
    expect(await metric('sent')).toBe(1);
    const state = await hub!.storage.getMeta<DigestScheduleState>(DIGEST_META_KEY);
    expect(state).toMatchObject({ lastResult: 'sent', lastRunAt: expect.any(Number) });
  });

  it('logs and counts a failed send with a stable code, without the webhook secret, and keeps the schedule', async () => {
    webhookStatus = 500;
    await eventually(async () => ((await metric('failed')) === 1 ? true : undefined), 'a failed digest', 5000);
    const failure = logLines.map((l) => JSON.parse(l)).find((l) => l.msg?.startsWith('the digest could not be sent'));
    expect(failure).toMatchObject({ level: 50, code: 'VIGIL_HUB_WEBHOOK_FAILED', err: expect.stringMatching(/answered 500: receiver broken/) });
    expect(logLines.join('\n')).not.toContain('secret-path-123');
    webhookStatus = 200;
    await eventually(async () => ((await metric('sent')) === 2 ? true : undefined), 'the next digest after the failure', 5000);
  });

  it('sends nothing when no episode waits', async () => {
    for (const e of [warnOld, alarmNew, alarmFan]) await hub!.storage.resolveEpisode(e.id, { label: 'real', cause: 'x', note: null, by: 'anna', at: Date.now() });
    const before = received.length;
    await eventually(async () => ((await metric('empty')) >= 1 ? true : undefined), 'an empty digest', 5000);
    expect(received.length).toBe(before);
  });

  it('does not send early after a restart: the last run is kept in storage', async () => {
    await hub!.stop();
    hub = undefined;
    const before = received.length;
    logLines.length = 0;
    // A longer period now: the next send is due 6 s after the last one, not at start.
    const restarted = await start(0.1);
    const { lastRunAt } = (await restarted.storage.getMeta<DigestScheduleState>(DIGEST_META_KEY))!;
    const scheduled = logLines.map((l) => JSON.parse(l)).find((l) => l.msg === 'digest scheduled');
    expect(Date.parse(scheduled.next)).toBe(lastRunAt! + 6000);
    expect(scheduled.webhook).toBe(`${new URL(webhookUrl).origin}/…`);
    await new Promise((r) => setTimeout(r, 1500));
    expect(received.length).toBe(before);
    expect(await metric('sent')).toBe(0);
  });

  it('gives up on a receiver that does not answer within the timeout', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`;
    const startedAt = Date.now();
    await expect(postWebhook(url, { x: 1 }, undefined, 300)).rejects.toMatchObject({ code: 'VIGIL_HUB_WEBHOOK_FAILED', message: expect.stringMatching(/no answer within 0.3 s/) });
    expect(Date.now() - startedAt).toBeLessThan(3000);
    silent.closeAllConnections();
    await new Promise((r) => silent.close(r));
  });
});
