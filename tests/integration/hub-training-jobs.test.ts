import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelPackage } from '../../agent/models/package-file.js';
import type { FetchedSeries } from '../../cloud-sync/gateway/history-requests.js';
import { HISTORY_CHUNK_SAMPLES, type HistoryRequest } from '../../shared/sync-protocol.js';
import { api, runVigil, startHubProcess, type ApiResult, type HubProcess } from '../helpers/hub-process.js';
import { connectSync, hello, type RawSyncClient } from '../helpers/raw-sync-client.js';

/**
 * Hub training as jobs, on a real `vigil hub` process: `POST
 * /api/models/train?async=true` answers 202 with a job, `GET
 * /api/training/:id` follows it through its states to the result (or the
 * error with its code); `vigil hub train` does that and prints progress to
 * stderr. The "agent" is a raw sync client that answers the history request
 * when the test says, so the job's fetching-history state can be seen; the
 * history is large enough (3 tags × 120,000 samples, 600-sample windows) for
 * the training to take seconds.
 */

const AGENT = 'gw-jobs';
const T0 = Date.UTC(2026, 0, 7, 6);
const TAGS = ['line3.flow', 'line3.pressure', 'line3.temp'];
const SAMPLES = 120_000;
const PERIOD_MS = 100;
const STATES = ['fetching-history', 'training', 'registering', 'done'];

let hub: HubProcess;
let admin: string;
let operator: string;
let agent: RawSyncClient;

/** A tag's history: slow waves plus deterministic noise; `constant` gives a tag that never moves. */
function history(tag: string, k: number, constant = false): FetchedSeries {
  const ts = Array.from({ length: SAMPLES }, (_, i) => T0 + i * PERIOD_MS);
  const values = ts.map((_, i) => (constant ? 7 : Number((10 + k + Math.sin(i / 900 + k) + 0.3 * Math.sin(i / 97) + 0.1 * Math.sin(i * 12.9898 + k * 78.233)).toFixed(4))));
  return { tag, ts, values, quality: ts.map(() => 'good' as const) };
}

/** Answers a history request like an agent, in chunks of HISTORY_CHUNK_SAMPLES. */
function answer(request: HistoryRequest, series: FetchedSeries[]): void {
  series.forEach((s, t) => {
    for (let start = 0; start < s.ts.length; start += HISTORY_CHUNK_SAMPLES) {
      const end = Math.min(start + HISTORY_CHUNK_SAMPLES, s.ts.length);
      agent.send({ type: 'history_chunk', request: request.request, tag: s.tag, ts: s.ts.slice(start, end), values: s.values.slice(start, end), quality: s.quality.slice(start, end), last: t === series.length - 1 && end === s.ts.length });
    }
  });
}

const trainBody = (name: string, extra: Record<string, unknown> = {}) => ({ agent: AGENT, tags: TAGS, from: T0, to: T0 + (SAMPLES - 1) * PERIOD_MS, name, samplePeriodMs: PERIOD_MS, windowLength: 600, hop: 1, ...extra });

/** Asks for the job every 100 ms until it is done or failed; every answer, in order. */
async function follow(id: string, timeoutMs = 120_000): Promise<ApiResult[]> {
  const seen: ApiResult[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await api(hub.url, `/api/training/${id}`, { token: admin });
    expect(job.status, job.text).toBe(200);
    seen.push(job);
    if (job.json.state === 'done' || job.json.state === 'failed') return seen;
    if (Date.now() > deadline) throw new Error(`training job ${id} still ${job.json.state} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  hub = await startHubProcess();
  [admin, operator] = await Promise.all([hub.addApiToken('admin-ada', 'admin'), hub.addApiToken('op-olga', 'operator')]);
  agent = await connectSync(hub.syncUrl, AGENT, await hub.addAgent(AGENT));
  agent.send(hello(AGENT, 'epoch-1'));
  await agent.next('welcome');
  await hub.addAgent('gw-offline');
}, 30_000);

afterAll(async () => {
  await agent?.close();
  // The last test restarts the hub on the same folder: removed here.
  await hub?.stop(true);
  if (hub) rmSync(hub.dir, { recursive: true, force: true });
});

describe('training jobs on the hub', () => {
  it('answers 202 at once, and the job goes from fetching history through training to done with the model registered', async () => {
    const started = await api(hub.url, '/api/models/train?async=true', { token: admin, body: trainBody('line3-normal', { version: '1.0.0' }) });
    expect(started.status, started.text).toBe(202);
    const id = started.json.id as string;
    expect(started.json).toMatchObject({ kind: 'train', model: 'line3-normal', by: 'admin-ada', replica: 'test-hub', state: 'fetching-history', progress: { text: `the history of 3 tags from ${AGENT}` } });

    // The agent has not answered: the job waits in fetching-history, and its elapsed time grows.
    const request = await agent.next('history_request', 15_000);
    await new Promise((r) => setTimeout(r, 300));
    const waiting = await api(hub.url, `/api/training/${id}`, { token: admin });
    expect(waiting.json).toMatchObject({ id, state: 'fetching-history' });
    expect(waiting.json.elapsedMs).toBeGreaterThanOrEqual(300);

    answer(request, TAGS.map((tag, k) => history(tag, k)));
    const seen = await follow(id);
    const states = seen.map((j) => j.json.state as string);
    const order = states.map((s) => STATES.indexOf(s));
    expect(order.every((o, i) => o >= 0 && (i === 0 || o >= order[i - 1]!)), states.join(' → ')).toBe(true);
    expect(states).toContain('training');
    // Progress while training: the trainer's phases, windows cut counted in samples with a percentage.
    const training = seen.filter((j) => j.json.state === 'training').map((j) => j.json.progress);
    expect(training.some((p) => p.phase === 'windows' && p.unit === 'samples' && p.percent >= 0 && p.percent <= 100 && /^cutting windows, [\d,]+ of 360,000 samples \(\d+ %\)$/.test(p.text)), JSON.stringify(training)).toBe(true);
    console.info(`job ${id}: ${[...new Set(seen.map((j) => `${j.json.state}/${j.json.progress.phase}`))].join(' → ')}`);

    const done = seen.at(-1)!.json;
    expect(done.state, JSON.stringify(done.error)).toBe('done');
    expect(done.elapsedMs).toBeGreaterThan(waiting.json.elapsedMs);
    expect(Date.parse(done.finishedAt)).toBeGreaterThanOrEqual(Date.parse(done.startedAt));
    // The result is what the waiting request answers.
    expect(Object.keys(done.result).sort()).toEqual(['calibration', 'record', 'samples', 'thresholds', 'windows']);
    expect(done.result.record).toMatchObject({ name: 'line3-normal', version: '1.0.0', uploadedBy: 'admin-ada' });
    expect(done.result.samples).toEqual(Object.fromEntries(TAGS.map((t) => [t, SAMPLES])));
    expect((await api(hub.url, '/api/models/line3-normal/versions/1.0.0', { token: admin })).json.manifest.thresholds).toEqual(done.result.thresholds);
    // A finished job stays readable.
    expect((await api(hub.url, `/api/training/${id}`, { token: admin })).json).toMatchObject({ state: 'done', elapsedMs: done.elapsedMs });
  }, 180_000);

  it('ends failed with the code the waiting request answers: a refusal of the data, an agent that is offline', async () => {
    const stuck = await api(hub.url, '/api/models/train?async=true', { token: admin, body: { ...trainBody('line3-stuck'), tags: ['line3.flow', 'line3.stuck'], windowLength: 30, hop: 10 } });
    expect(stuck.status).toBe(202);
    answer(await agent.next('history_request', 15_000), [history('line3.flow', 0), history('line3.stuck', 1, true)]);
    const refused = (await follow(stuck.json.id)).at(-1)!.json;
    expect(refused).toMatchObject({ state: 'failed', error: { code: 'VIGIL_API_BAD_REQUEST', refusal: 'VIGIL_TRAINING_DATA_INVALID', status: 400, message: expect.stringMatching(/tag "line3\.stuck" never changes in the training data/) } });
    expect(refused.result).toBeUndefined();
    expect((await api(hub.url, '/api/models/line3-stuck/versions/1.0.0', { token: admin })).status).toBe(404);

    const offline = await api(hub.url, '/api/models/train?async=true', { token: admin, body: { ...trainBody('line3-offline'), agent: 'gw-offline' } });
    expect(offline.status).toBe(202);
    expect((await follow(offline.json.id)).at(-1)!.json).toMatchObject({ state: 'failed', error: { code: 'VIGIL_API_CONFLICT', status: 409, message: expect.stringMatching(/gw-offline is not connected/) } });
  }, 60_000);

  it('refuses bad method parameters, options and a taken version before any job starts, answers 404 for an unknown job and 421 for another replica’s, only to admins', async () => {
    const badMethod = await api(hub.url, '/api/models/train?async=true', { token: admin, body: trainBody('line3-bad', { method: { margin: -1, features: ['median'], smoothing: 3 } }) });
    expect(badMethod.status).toBe(400);
    expect(badMethod.json.error.code).toBe('VIGIL_API_BAD_REQUEST');
    expect(badMethod.json.error.message).toMatch(/method\.margin: .*>0/);
    expect(badMethod.json.error.message).toMatch(/method\.features\.0: .*"mean"\|"spread"/);
    expect(badMethod.json.error.message).toMatch(/method: unknown field smoothing/);
    const badQuery = await api(hub.url, '/api/models/train?async=soon', { token: admin, body: trainBody('line3-bad') });
    expect(badQuery.status).toBe(400);
    expect(badQuery.json.error.message).toMatch(/^async: /);
    const taken = await api(hub.url, '/api/models/train?async=true', { token: admin, body: trainBody('line3-normal', { version: '1.0.0' }) });
    expect(taken.status).toBe(409);
    expect(taken.json.error.message).toMatch(/model line3-normal version 1\.0\.0 exists/);
    // Nothing was asked of the agent.
    expect(agent.received.filter((m) => m.type === 'history_request')).toHaveLength(2);

    const unknown = await api(hub.url, '/api/training/no-such-job', { token: admin });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toMatchObject({ code: 'VIGIL_API_NOT_FOUND', message: expect.stringMatching(/^no training job no-such-job on hub replica test-hub/) });
    expect((await api(hub.url, '/api/training/no-such-job', { token: operator })).status).toBe(403);
    // An id of another replica's job (ids start with a tag of the replica's id): 421, ask again elsewhere.
    const ours = (await api(hub.url, '/api/models/train?async=true', { token: admin, body: { ...trainBody('line3-elsewhere'), agent: 'gw-offline' } })).json.id as string;
    const theirs = `${ours[0] === '0' ? '1' : '0'}${ours.slice(1)}`;
    const elsewhere = await api(hub.url, `/api/training/${theirs}`, { token: admin });
    expect(elsewhere.status).toBe(421);
    expect(elsewhere.json.error.message).toMatch(new RegExp(`^training job ${theirs} runs on another hub replica than test-hub: ask again`));
    expect((await api(hub.url, '/api/models/train?async=true', { token: operator, body: trainBody('line3-op') })).status).toBe(403);
  }, 30_000);

  it('`vigil hub train` prints the job’s progress to stderr and the result to stdout, and passes the method parameters', async () => {
    const adminFile = join(hub.dir, 'admin.token');
    writeFileSync(adminFile, admin + '\n');
    const args = ['hub', 'train', '--agent', AGENT, '--tags', TAGS.join(','), '--from', String(T0), '--to', String(T0 + (SAMPLES - 1) * PERIOD_MS), '--name', 'line3-cli', '--period-ms', String(PERIOD_MS), '--window', '600', '--hub', hub.url, '--token-file', adminFile];
    const method = ['--features', 'mean,spread', '--margin', '4', '--quantile', '0.95', '--variance-share', '0.9'];
    const [run] = await Promise.all([
      runVigil([...args, ...method]),
      (async () => {
        const request = await agent.next('history_request', 15_000);
        // Long enough for the command to see the job fetching history.
        await new Promise((r) => setTimeout(r, 2500));
        answer(request, TAGS.map((tag, k) => history(tag, k)));
      })(),
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^ {2}training job [0-9a-f]{16}-\d+ on the hub/m);
    expect(run.stderr).toMatch(new RegExp(`^ {2}… fetching history: the history of 3 tags from ${AGENT} \\(\\d+ s\\)$`, 'm'));
    expect(run.stderr).toMatch(/^ {2}… training: .+ \(\d+ s\)$/m);
    // The result on stdout, as before; no progress there.
    expect(run.stdout).toContain('✔ trained line3-cli@1.0.0');
    expect(run.stdout).toContain(`line3.flow ${SAMPLES}`);
    expect(run.stdout).not.toMatch(/^ {2}… /m);

    // The method parameters are the model's: in its lineage, and two features (mean, spread) per tag.
    const download = await fetch(`${hub.url}/api/models/line3-cli/versions/1.0.0/package`, { headers: { authorization: `Bearer ${admin}` } });
    const { manifest } = readModelPackage(Buffer.from(await download.arrayBuffer()), 'line3-cli');
    expect(manifest.lineage!.parameters).toMatchObject({ features: ['mean', 'spread'], margin: 4, quantile: 0.95, varianceShare: 0.9 });
    const defaults = (await api(hub.url, '/api/models/line3-normal/versions/1.0.0', { token: admin })).json.manifest;
    expect(defaults.lineage.parameters).toMatchObject({ features: ['mean'], margin: 2.5, quantile: 0.99, varianceShare: 0.95 });

    // A bad parameter is refused by the hub's validation, before any job.
    const bad = await runVigil([...args, '--name', 'line3-bad', '--features', 'median']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/✖ VIGIL_API_BAD_REQUEST: method\.features\.0: /);
    expect(bad.stderr).not.toContain('training job');
  }, 180_000);

  it('says a job was lost when the replica restarted while it ran', async () => {
    const started = await api(hub.url, '/api/models/train?async=true', { token: admin, body: trainBody('line3-lost') });
    expect(started.status).toBe(202);
    await agent.next('history_request', 15_000);
    await agent.close();
    await hub.stop(true);
    hub = await startHubProcess({ dir: hub.dir });
    const lost = await api(hub.url, `/api/training/${started.json.id}`, { token: admin });
    expect(lost.status).toBe(404);
    expect(lost.json.error).toMatchObject({ code: 'VIGIL_API_NOT_FOUND', message: expect.stringMatching(new RegExp(`^training job ${started.json.id} was started before hub replica test-hub restarted at .+, and is lost\\. Training jobs live in the memory of the hub replica that runs them`)) });
    expect((await api(hub.url, '/api/models/line3-lost/versions/1.0.0', { token: admin })).status).toBe(404);
  }, 60_000);
});
