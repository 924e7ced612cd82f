import { readFileSync, writeFileSync } from 'node:fs';
import { readModelPackage } from '../../agent/models/package-file.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryRequest } from '../../shared/sync-protocol.js';
import { api, runVigil, startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { connectSync, hello, type RawSyncClient } from '../helpers/raw-sync-client.js';

// A real `vigil hub` process; the "agent" is a raw websocket client that answers history requests by hand.
let hub: HubProcess;
let admin: string;
let agent: RawSyncClient;
const T0 = Date.UTC(2026, 0, 1, 8);
const TAGS = ['line1.flow', 'line1.pressure', 'line1.temp'];

/** 600 samples (100 ms apart) of a tag: a slow wave plus deterministic noise, every 50th sample bad. */
function series(tag: string, offset: number): { ts: number[]; values: Array<number | null>; quality: Array<'good' | 'bad'> } {
  const ts = Array.from({ length: 600 }, (_, i) => T0 + i * 100);
  const values = ts.map((_, i) => (i % 50 === 49 ? null : 10 + offset + Math.sin(i / 40 + offset) + 0.1 * Math.sin(i * 12.9898 + offset * 78.233)));
  return { ts, values, quality: values.map((v) => (v === null ? 'bad' : 'good')) };
}

/** Answers the next history request like an agent: each tag in two chunks, `last` on the final one. */
async function answerNextRequest(client: RawSyncClient): Promise<HistoryRequest> {
  const request = await client.next('history_request', 15_000);
  // An answer to a request nobody asked is ignored by the hub.
  client.send({ type: 'history_chunk', request: 'not-a-request', tag: 'x', ts: [1], values: [1], quality: ['good'], last: true });
  request.tags.forEach((tag, t) => {
    const s = series(tag, t);
    for (const [start, end] of [[0, 250], [250, 600]] as const) {
      client.send({ type: 'history_chunk', request: request.request, tag, ts: s.ts.slice(start, end), values: s.values.slice(start, end), quality: s.quality.slice(start, end), last: t === request.tags.length - 1 && end === 600 });
    }
  });
  return request;
}

beforeAll(async () => {
  hub = await startHubProcess();
  admin = await hub.addApiToken('test-admin', 'admin');
  agent = await connectSync(hub.syncUrl, 'gw-train', await hub.addAgent('gw-train'));
  agent.send(hello('gw-train', 'epoch-1'));
  await agent.next('welcome');
  await hub.addAgent('gw-offline');
}, 30_000);

afterAll(async () => {
  await agent?.close();
  await hub?.stop();
});

describe('POST /api/models/train', () => {
  it("fetches the agent's history over its sync connection, trains, and registers a signed version", async () => {
    const body = { agent: 'gw-train', tags: TAGS, from: new Date(T0).toISOString(), to: T0 + 59_900, name: 'line1-normal', samplePeriodMs: 100, windowLength: 10, hop: 2 };
    const [response, request] = await Promise.all([api(hub.url, '/api/models/train', { token: admin, body }), answerNextRequest(agent)]);
    expect(request).toMatchObject({ tags: TAGS, from: T0, to: T0 + 59_900 });
    expect(response.status, JSON.stringify(response.json)).toBe(201);
    expect(response.json.record).toMatchObject({ name: 'line1-normal', version: '1.0.0' });
    expect(response.json.samples).toEqual({ 'line1.flow': 600, 'line1.pressure': 600, 'line1.temp': 600 });
    expect(response.json.thresholds.alarm).toBeGreaterThan(response.json.thresholds.warn);
    expect(response.json.calibration.heldOutWindows).toBeGreaterThan(0);

    const version = await api(hub.url, '/api/models/line1-normal/versions/1.0.0', { token: admin });
    expect(version.status).toBe(200);
    expect(version.json.manifest).toMatchObject({ tags: TAGS, samplePeriodMs: 100, windowLength: 10, hop: 2 });
    expect(version.json.manifest.lineage.sources).toEqual([expect.objectContaining({ kind: 'agent-history', name: 'gw-train', from: T0 })]);
  }, 30_000);

  it('answers 409 for an agent that is not connected, and 400 with the refusal when the agent has no such history', async () => {
    const offline = await api(hub.url, '/api/models/train', { token: admin, body: { agent: 'gw-offline', tags: TAGS, from: T0, to: T0 + 60_000, name: 'x', samplePeriodMs: 100 } });
    expect(offline.status).toBe(409);
    expect(offline.json.error.message).toMatch(/gw-offline is not connected/);

    const refused = api(hub.url, '/api/models/train', { token: admin, body: { agent: 'gw-train', tags: ['no.such.tag'], from: T0, to: T0 + 60_000, name: 'x', samplePeriodMs: 100 } });
    const request = await agent.next('history_request');
    agent.send({ type: 'history_error', request: request.request, message: 'no samples of tag no.such.tag in the period' });
    const answer = await refused;
    expect(answer.status).toBe(400);
    expect(answer.json.error).toMatchObject({ code: 'VIGIL_API_BAD_REQUEST', message: expect.stringMatching(/gw-train cannot provide the history: no samples of tag no\.such\.tag/) });

    const backwards = await api(hub.url, '/api/models/train', { token: admin, body: { agent: 'gw-train', tags: TAGS, from: T0 + 60_000, to: T0, name: 'x', samplePeriodMs: 100 } });
    expect(backwards.status).toBe(400);
  }, 30_000);

  it('`vigil hub train` does the same from the command line and picks the next free minor version', async () => {
    const adminFile = join(hub.dir, 'admin.token');
    writeFileSync(adminFile, admin + '\n');
    const args = ['hub', 'train', '--agent', 'gw-train', '--tags', TAGS.join(','), '--from', new Date(T0).toISOString(), '--to', String(T0 + 59_900), '--name', 'line1-normal', '--period-ms', '100', '--window', '10', '--hub', hub.url, '--token-file', adminFile];
    const [run] = await Promise.all([runVigil(args), answerNextRequest(agent)]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('✔ trained line1-normal@1.1.0');
    expect(run.stdout).toContain('line1.flow 600, line1.pressure 600, line1.temp 600');
    expect(run.stdout).toContain('vigil hub deploy line1-normal 1.1.0');
    // It follows the training as a job on the hub: progress on stderr.
    expect(run.stderr).toMatch(/^ {2}training job \S+ on the hub/m);
    expect(run.stderr).toMatch(/^ {2}… fetching history: the history of 3 tags from gw-train \(\d+ s\)$/m);
  }, 30_000);

  it('`vigil model train --agent` learns from the same history and writes the package here, as the hub registered it', async () => {
    const adminFile = join(hub.dir, 'admin.token');
    writeFileSync(adminFile, admin + '\n');
    const out = join(hub.dir, 'from-agent.vmodel');
    const args = ['model', 'train', '--agent', 'gw-train', '--tags', TAGS.join(','), '--from', new Date(T0).toISOString(), '--to', String(T0 + 59_900), '--name', 'line1-cli', '--period-ms', '100', '--window', '10', '--margin', '3', '--out', out, '--hub', hub.url, '--token-file', adminFile];
    const [run, request] = await Promise.all([runVigil(args), answerNextRequest(agent)]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(request).toMatchObject({ tags: TAGS, from: T0, to: T0 + 59_900 });
    expect(run.stdout).toContain('✔ trained line1-cli@1.0.0');
    expect(run.stdout).toContain(`package       ${out}`);
    const written = readModelPackage(readFileSync(out));
    expect(written.manifest).toMatchObject({ name: 'line1-cli', version: '1.0.0', tags: TAGS, samplePeriodMs: 100, windowLength: 10 });
    expect(written.manifest.lineage?.sources).toEqual([expect.objectContaining({ kind: 'agent-history', name: 'gw-train', from: T0 })]);
    const registered = await api(hub.url, '/api/models/line1-cli/versions/1.0.0', { token: admin });
    expect(registered.json.manifest.onnx.sha256).toBe(written.manifest.onnx.sha256);

    // Options that read files do not mix with --agent; --last without --agent is refused too.
    const mixed = await runVigil(['model', 'train', '--agent', 'gw-train', '--csv', 'x.csv', '--tags', 'a', '--name', 'n', '--period-ms', '100', '--hub', hub.url, '--token-file', adminFile]);
    expect(mixed.code).toBe(1);
    expect(mixed.stdout).toMatch(/--csv read files; --agent trains from the agent's history instead/);
    const lonely = await runVigil(['model', 'train', '--csv', 'x.csv', '--last', '1h']);
    expect(lonely.code).toBe(1);
    expect(lonely.stdout).toMatch(/--last, --hub, --token-file and --token-env go with --agent/);
    const incomplete = await runVigil(['model', 'train', '--agent', 'gw-train', '--last', '1h', '--hub', hub.url, '--token-file', adminFile]);
    expect(incomplete.code).toBe(1);
    expect(incomplete.stdout).toMatch(/needs --tags, --name, --period-ms/);
  }, 60_000);
});
