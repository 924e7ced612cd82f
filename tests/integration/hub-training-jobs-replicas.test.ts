import { writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryRequest } from '../../shared/sync-protocol.js';
import { eventually } from '../helpers/agent-process.js';
import { api, runVigil, startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres-test-db.js';
import { connectSync, hello, type RawSyncClient } from '../helpers/raw-sync-client.js';

/**
 * Training jobs live in the memory of the replica that runs them. Two real
 * hub replicas on one PostgreSQL database behind a round-robin balancer (a
 * small HTTP proxy here, every request to the next replica, as nginx does
 * without sticky sessions): the replica that does not run a job answers 421,
 * and `vigil hub train` keeps asking until the one that runs it answers.
 */

const AGENT = 'gw-rr';
const T0 = Date.UTC(2026, 0, 9, 6);
const TAGS = ['line4.flow', 'line4.temp'];

let db: TestDatabase;
let replicas: HubProcess[];
let admin: string;
let agent: RawSyncClient;
let balancer: Server;
let balancerUrl: string;
/** Every request the balancer passed on: which replica, what, and its status. */
const passed: Array<{ replica: number; method: string; path: string; status: number }> = [];

/** Answers the next history request with 600 samples per tag, 100 ms apart. */
async function answerNextRequest(): Promise<HistoryRequest> {
  const req = await agent.next('history_request', 20_000);
  req.tags.forEach((tag, t) => {
    const ts = Array.from({ length: 600 }, (_, i) => T0 + i * 100);
    const values = ts.map((_, i) => 10 * (t + 1) + Math.sin(i / 30 + t) + 0.1 * Math.sin(i * 12.9898 + t * 78.233));
    agent.send({ type: 'history_chunk', request: req.request, tag, ts, values, quality: ts.map(() => 'good'), last: t === req.tags.length - 1 });
  });
  return req;
}

/** A round-robin reverse proxy over the replicas. */
function startBalancer(): Promise<void> {
  let next = 0;
  balancer = createServer((req, res) => {
    const replica = next++ % replicas.length;
    const forward = request(new URL(req.url ?? '/', replicas[replica]!.url), { method: req.method, headers: req.headers }, (answer) => {
      passed.push({ replica, method: req.method ?? '', path: req.url ?? '', status: answer.statusCode ?? 0 });
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', (err) => res.writeHead(502).end(String(err)));
    req.pipe(forward);
  });
  return new Promise((resolve) =>
    balancer.listen(0, '127.0.0.1', () => {
      balancerUrl = `http://127.0.0.1:${(balancer.address() as AddressInfo).port}`;
      resolve();
    }),
  );
}

beforeAll(async () => {
  db = await createTestDatabase();
  replicas = await Promise.all(['replica-a', 'replica-b'].map((id) => startHubProcess({ id, postgres: { url: db.url }, sync: { heartbeatMs: 1000, offlineAfterMs: 5000 } })));
  admin = await replicas[0]!.addApiToken('admin-ada', 'admin');
  agent = await connectSync(replicas[0]!.syncUrl, AGENT, await replicas[0]!.addAgent(AGENT));
  agent.send(hello(AGENT, 'epoch-1'));
  await agent.next('welcome');
  // Replica B must know where the agent is before a job it runs asks for its history.
  await eventually(async () => ((await api(replicas[1]!.url, `/api/agents/${AGENT}`, { token: admin })).json.connectedTo === 'replica-a' ? true : undefined), 'replica B to see the agent on A');
  await startBalancer();
}, 90_000);

afterAll(async () => {
  await agent?.close();
  await new Promise((r) => balancer?.close(r));
  for (const hub of replicas ?? []) await hub.stop();
  await db?.drop();
});

describe('training jobs behind a load balancer', () => {
  it('answers 421 on the replica that does not run the job, and `vigil hub train` follows it to the end through the balancer', async () => {
    const adminFile = join(replicas[0]!.dir, 'admin.token');
    writeFileSync(adminFile, admin + '\n');
    const args = ['hub', 'train', '--agent', AGENT, '--tags', TAGS.join(','), '--from', String(T0), '--to', String(T0 + 59_900), '--name', 'line4-rr', '--period-ms', '100', '--window', '10', '--hub', balancerUrl, '--token-file', adminFile];
    const [run] = await Promise.all([runVigil(args), answerNextRequest()]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('✔ trained line4-rr@1.0.0');

    // The POST started the job on one replica; the other answered 421 to a poll, the runner answered 200.
    const post = passed.find((p) => p.method === 'POST' && p.path === '/api/models/train?async=true');
    expect(post?.status).toBe(202);
    const polls = passed.filter((p) => p.method === 'GET' && p.path.startsWith('/api/training/'));
    expect(polls.filter((p) => p.replica !== post!.replica).map((p) => p.status)).toContain(421);
    expect(polls.filter((p) => p.replica === post!.replica).every((p) => p.status === 200)).toBe(true);
    expect(polls.filter((p) => p.replica !== post!.replica).every((p) => p.status === 421)).toBe(true);

    // Asked directly, the other replica says where the job is and that it does not share it.
    const id = polls[0]!.path.slice('/api/training/'.length);
    const other = await api(replicas[1 - post!.replica]!.url, `/api/training/${id}`, { token: admin });
    expect(other.status).toBe(421);
    expect(other.json.error).toMatchObject({ code: 'VIGIL_API_NOT_FOUND', message: expect.stringMatching(new RegExp(`^training job ${id} runs on another hub replica than replica-[ab]: ask again`)) });
    expect((await api(replicas[post!.replica]!.url, `/api/training/${id}`, { token: admin })).json).toMatchObject({ state: 'done', replica: `replica-${'ab'[post!.replica]}` });
  }, 90_000);
});
