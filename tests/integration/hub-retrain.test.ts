import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelPackage } from '../../agent/models/package-file.js';
import { packTrainedModel } from '../../cloud-sync/training/trained-package.js';
import { trainModel } from '../../cloud-sync/training/train-model.js';
import type { TrainingSegment } from '../../cloud-sync/training/training-data.js';
import type { Episode, TagSnapshot } from '../../shared/episode.js';
import { checkPackageSignature } from '../../shared/package-signature.js';
import { sendEpisodes } from '../helpers/episode-fixture.js';
import { api, runVigil, startHubProcess, type HubProcess } from '../helpers/hub-process.js';

/**
 * Retraining from answers on a real hub process (LMDB, HTTP, sync gateway):
 * a model trained on a synthetic plant alarms on a new operating point (the
 * pressure runs higher for the same flow); the plant answers those episodes
 * as normal operation; the retrained version is registered, signed, names
 * its parent and answers, and raises fewer alarms on that stretch.
 */

const TAGS = ['line1.flow', 'line1.pressure', 'line1.current', 'line1.temp'];
const T0 = Date.UTC(2026, 2, 9, 6, 0, 0);
const AGENT = 'gw-retrain';
const BEFORE_S = 300;
const EPISODE_S = 300;

/** A seeded normal random generator (LCG + Box–Muller), as in tests/unit/training-synthetic.test.ts. */
function gaussian(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) + 1) / 4294967297;
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** The synthetic pumped line, one sample a second; from `shiftFrom` (s) on the pressure runs `shift` higher for the same flow. */
function plant(seconds: number, startSecond: number, seed: number, shift?: { from: number; offset: number }): Array<{ tag: string; ts: number[]; values: number[] }> {
  const noise = gaussian(seed);
  const out = TAGS.map((tag) => ({ tag, ts: [] as number[], values: [] as number[] }));
  for (let i = 0; i < seconds; i++) {
    const t = startSecond + i;
    const ts = T0 + t * 1000 + 137;
    const flow = 50 + 5 * Math.sin((2 * Math.PI * t) / 600) + 0.5 * noise();
    const raised = shift && t >= shift.from ? shift.offset : 0;
    const values = [flow, 2 + 0.04 * flow + 0.05 * noise() + raised, 10 + 0.2 * flow + 0.2 * noise(), 60 + 0.5 * Math.sin((2 * Math.PI * t) / 1800) + 0.1 * noise()];
    out.forEach((s, k) => {
      s.ts.push(ts);
      s.values.push(values[k]!);
    });
  }
  return out;
}

function segment(series: ReturnType<typeof plant>): TrainingSegment {
  return { source: { kind: 'csv', name: 'synthetic' }, series: series.map((s) => ({ tag: s.tag, ts: Float64Array.from(s.ts), values: Float64Array.from(s.values) })) };
}

/** An episode as the agent sends it: BEFORE_S of normal context, then EPISODE_S at the new operating point. */
function episodeAt(startSecond: number, seed: number): Episode {
  const start = T0 + (startSecond + BEFORE_S) * 1000;
  const series = plant(BEFORE_S + EPISODE_S, startSecond, seed, { from: startSecond + BEFORE_S, offset: 0.15 });
  const snapshot: TagSnapshot[] = series.map((s) => ({ tag: s.tag, ts: s.ts, values: s.values, quality: s.ts.map(() => 'good' as const) }));
  return {
    id: `${AGENT}:line1-pca:${start}`,
    revision: 1,
    agent: AGENT,
    model: 'line1-pca',
    version: '1.0.0',
    start,
    end: start + EPISODE_S * 1000,
    state: 'closed',
    peakScore: 9,
    meanScore: 6,
    windows: 50,
    topTags: [{ tag: 'line1.pressure', share: 0.9 }],
    thresholds: { warn: 1, alarm: 2 },
    snapshot,
  };
}

let hub: HubProcess;
let admin: string;
let operator: string;
const episodes = [episodeAt(4000, 11), episodeAt(6000, 12), episodeAt(8000, 13)];

beforeAll(async () => {
  hub = await startHubProcess();
  [admin, operator] = await Promise.all([hub.addApiToken('admin-ada', 'admin'), hub.addApiToken('op-olga', 'operator')]);
  const trained = trainModel({ name: 'line1-pca', version: '1.0.0', tags: TAGS, samplePeriodMs: 1000, windowLength: 30, hop: 5, normal: [segment(plant(3600, 0, 1))] });
  const { bytes } = await packTrainedModel(trained);
  const upload = await fetch(`${hub.url}/api/models`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/octet-stream' }, body: bytes });
  expect(upload.status).toBe(201);
  const { token } = (await api(hub.url, '/api/agents', { token: admin, body: { id: AGENT } })).json;
  await sendEpisodes(hub, AGENT, token, episodes);
}, 30_000);

afterAll(async () => {
  await hub?.stop();
});

const retrainPath = '/api/models/line1-pca/versions/1.0.0/retrain';

describe('POST /api/models/:name/versions/:version/retrain', () => {
  it('refuses without answers, and refuses operators', async () => {
    const none = await api(hub.url, retrainPath, { token: admin, method: 'POST' });
    expect(none.status).toBe(400);
    expect(none.json.error.message).toMatch(/no episode answered as normal operation/);
    expect((await api(hub.url, retrainPath, { token: operator, method: 'POST' })).status).toBe(403);
    expect((await api(hub.url, '/api/models/line1-pca/versions/9.9.9/retrain', { token: admin, method: 'POST' })).status).toBe(404);
  });

  it('registers a signed candidate that learned from the answers and alarms less on their data', async () => {
    for (const e of episodes) {
      const answer = await api(hub.url, `/api/episodes/${encodeURIComponent(e.id)}/resolution`, { token: operator, body: { label: 'normal' } });
      expect(answer.status).toBe(200);
    }
    const retrained = await api(hub.url, retrainPath, { token: admin, method: 'POST' });
    expect(retrained.status, retrained.text).toBe(201);
    const result = retrained.json;
    expect(result.record).toMatchObject({ name: 'line1-pca', version: '1.0.1', uploadedBy: 'admin-ada' });
    expect(result.resolutionsUsed).toBe(3);
    expect(result.episodes.sort()).toEqual(episodes.map((e) => e.id).sort());
    // The agent is offline (its episodes came over a connection that closed): the answers come from their snapshots; the parent's CSV is not on the hub.
    expect(result.data).toEqual({
      answers: { rawHistory: 0, snapshot: 3 },
      parentSources: [{ kind: 'csv', name: 'synthetic', from: T0 + 137, to: T0 + 3599_137, read: 'missing', note: 'not read again: the hub does not keep the CSV files a model was trained from' }],
    });

    // The parent alarms on most of the answered stretch; the candidate on (almost) none of it.
    expect(result.comparison.comparable).toBe(true);
    expect(result.comparison.parent.windows).toBeGreaterThan(100);
    expect(result.comparison.parent.alarms).toBeGreaterThan(result.comparison.parent.windows / 2);
    expect(result.comparison.candidate.alarms).toBeLessThan(result.comparison.parent.alarms / 4);

    // Stored, signed by the hub's key, with lineage naming its parent and answers.
    const download = await fetch(`${hub.url}/api/models/line1-pca/versions/1.0.1/package`, { headers: { authorization: `Bearer ${admin}` } });
    expect(download.status).toBe(200);
    const bytes = Buffer.from(await download.arrayBuffer());
    const publicKeyPem = await (await fetch(`${hub.url}/api/signing-key`)).text();
    expect(checkPackageSignature(bytes, download.headers.get('x-vigil-sha256')!, download.headers.get('x-vigil-signature')!, publicKeyPem)).toEqual({ ok: true });
    const { manifest } = readModelPackage(bytes, 'retrained');
    expect(manifest.lineage).toMatchObject({ parent: 'line1-pca@1.0.0', resolutionsUsed: 3, method: 'pca-t2q/1' });
    const resolutions = manifest.lineage!.sources.filter((s) => s.kind === 'resolution');
    expect(resolutions.map((s) => s.name).sort()).toEqual(episodes.map((e) => e.id).sort());
    for (const s of resolutions) expect(s.note).toMatch(new RegExp(`^snapshot only \\(600 points per tag at most\\): agent ${AGENT} is not connected`));
    expect(manifest.lineage!.sources.find((s) => s.kind === 'csv')).toMatchObject({ name: 'synthetic', windows: 0, note: expect.stringMatching(/^not read again/) });
    expect(manifest).toMatchObject({ tags: TAGS, samplePeriodMs: 1000, windowLength: 30, hop: 5 });

    // A second retrain without a version takes the next free one; an existing version is a conflict.
    const again = await api(hub.url, retrainPath, { token: admin, method: 'POST' });
    expect(again.json.record.version).toBe('1.0.2');
    expect((await api(hub.url, retrainPath, { token: admin, body: { version: '1.0.1' } })).status).toBe(409);
  });
});

describe('vigil hub retrain', () => {
  it('retrains through the API and prints the version, the answers and the comparison', async () => {
    const adminFile = join(hub.dir, 'admin.token');
    const operatorFile = join(hub.dir, 'operator.token');
    writeFileSync(adminFile, admin + '\n');
    writeFileSync(operatorFile, operator + '\n');

    const run = await runVigil(['hub', 'retrain', 'line1-pca', '1.0.0', '--version', '1.1.0', '--hub', hub.url, '--token-file', adminFile]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('✔ retrained line1-pca@1.0.0 → line1-pca@1.1.0 from 3 answers');
    expect(run.stdout).toMatch(/line1-pca@1\.0\.0 162 of 162, 1\.1\.0 0 of 162/);
    expect(run.stdout).toContain("answers' data: 0 from the agents' raw history, 3 only from the episodes' downsampled snapshots");
    expect(run.stdout).toContain("parent's data read again: 0 of 1 source");
    expect(run.stdout).toContain('csv synthetic: not read again: the hub does not keep the CSV files');
    expect(run.stdout).toContain('vigil hub deploy line1-pca 1.1.0');
    // It follows the retraining as a job on the hub: progress on stderr, none on stdout.
    expect(run.stderr).toMatch(/^ {2}training job \S+ on the hub/m);
    expect(run.stderr).toMatch(/^ {2}… fetching history: the answered episodes of line1-pca@1\.0\.0 \(\d+ s\)$/m);
    expect(run.stdout).not.toMatch(/^ {2}… /m);
    expect((await api(hub.url, '/api/models/line1-pca/versions/1.1.0', { token: admin })).json.manifest.lineage).toMatchObject({ parent: 'line1-pca@1.0.0', resolutionsUsed: 3 });

    const denied = await runVigil(['hub', 'retrain', 'line1-pca', '1.0.0', '--hub', hub.url, '--token-file', operatorFile]);
    expect(denied.code).toBe(1);
    expect(denied.stdout).toMatch(/✖ VIGIL_API_FORBIDDEN/);
  }, 30_000);
});

describe('retraining as a job', () => {
  /** Asks for the job every 100 ms until it ends; every state and progress seen, in order. */
  async function follow(id: string): Promise<any[]> {
    const seen: any[] = [];
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      const job = await api(hub.url, `/api/training/${id}`, { token: admin });
      expect(job.status, job.text).toBe(200);
      seen.push(job.json);
      if (job.json.state === 'done' || job.json.state === 'failed') return seen;
    }
    throw new Error(`training job ${id} did not end within 60 s`);
  }

  it('answers 202 and ends done with the result the waiting request answers, its data included', async () => {
    const response = await fetch(`${hub.url}${retrainPath}?async=true`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ version: '1.2.0' }) });
    const started = (await response.json()) as { id: string };
    expect(response.status, JSON.stringify(started)).toBe(202);
    expect(response.headers.get('location')).toBe(`/api/training/${started.id}`);
    expect(started).toMatchObject({ kind: 'retrain', model: 'line1-pca', parent: 'line1-pca@1.0.0', state: 'fetching-history' });
    const seen = await follow(started.id);
    // Through its states in order: reading the answers' data, training, registering (each seen or passed between two polls).
    const order = seen.map((j) => ['fetching-history', 'training', 'registering', 'done'].indexOf(j.state));
    expect(order.every((o, i) => o >= 0 && (i === 0 || o >= order[i - 1]!)), seen.map((j) => j.state).join(' → ')).toBe(true);
    const done = seen.at(-1);
    expect(done.state, JSON.stringify(done.error)).toBe('done');
    expect(done.result).toMatchObject({ record: { name: 'line1-pca', version: '1.2.0' }, parent: 'line1-pca@1.0.0', resolutionsUsed: 3, comparison: { comparable: true } });
    expect(done.result.data).toEqual({
      answers: { rawHistory: 0, snapshot: 3 },
      parentSources: [{ kind: 'csv', name: 'synthetic', from: T0 + 137, to: T0 + 3599_137, read: 'missing', note: 'not read again: the hub does not keep the CSV files a model was trained from' }],
    });
    expect((await api(hub.url, '/api/models/line1-pca/versions/1.2.0', { token: admin })).status).toBe(200);
  }, 60_000);

  it('ends failed with the refusal when the version has no answers of its own, and refuses a taken version or an unknown parent at once', async () => {
    // 1.2.0 was retrained above; none of its own episodes is answered.
    const started = await api(hub.url, '/api/models/line1-pca/versions/1.2.0/retrain?async=true', { token: admin, method: 'POST' });
    expect(started.status).toBe(202);
    const failed = (await follow(started.json.id)).at(-1);
    expect(failed).toMatchObject({ state: 'failed', error: { code: 'VIGIL_API_BAD_REQUEST', refusal: 'VIGIL_TRAINING_DATA_INVALID', status: 400, message: expect.stringMatching(/line1-pca@1\.2\.0 has no episode answered as normal operation/) } });
    expect(failed.result).toBeUndefined();

    const taken = await api(hub.url, `${retrainPath}?async=true`, { token: admin, body: { version: '1.2.0' } });
    expect(taken.status).toBe(409);
    expect(taken.json.error.message).toMatch(/model line1-pca version 1\.2\.0 exists/);
    const unknown = await api(hub.url, '/api/models/line1-pca/versions/9.9.9/retrain?async=true', { token: admin, method: 'POST' });
    expect(unknown.status).toBe(404);
  }, 60_000);
});
