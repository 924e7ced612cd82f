import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpcuaPlant, type OpcuaPlant } from '../../agent/demo/opcua-plant.js';
import { eventually, spawnVigil, type VigilProcess } from '../helpers/agent-process.js';
import { api, runVigil, startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { PUMP1_TAGS, pcaPackage } from '../helpers/pca-package.js';
import pg from 'pg';
import { TEST_POSTGRES_URL, createTestDatabase, type TestDatabase } from '../helpers/postgres-test-db.js';
import { LENIENT_MISSING_DATA, agentHealth, agentModels, drained, expectGapFreeOnce, hubScores, writeSyncedAgentConfig } from '../helpers/sync-e2e.js';

const MODEL = 'pump1-pca';
/** rep-a starts on replica A, rep-b on replica B; each lists the other replica second. */
const AGENTS = ['rep-a', 'rep-b'] as const;
const DIGEST_EVERY_S = 3;

interface AgentView {
  id: string;
  online: boolean;
  connectedTo: string | null;
}

/** A statement on the server's maintenance database (the test database may refuse connections). */
async function maintenance(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Two hub replicas on one PostgreSQL database, every part a real process:
 * agents spread over both, deployments and history requests cross from one
 * replica to the agents of the other, one replica is killed with SIGKILL while
 * the agents upload, and afterwards every committed record is on the hub
 * exactly once, a deployment made on the survivor reaches every agent, and
 * the digest went out once per period, never once per replica.
 */
describe('two hub replicas on PostgreSQL (real processes)', () => {
  let plant: OpcuaPlant;
  let db: TestDatabase;
  let dir: string;
  let replicaA: HubProcess;
  let replicaB: HubProcess;
  let admin: string;
  let webhook: Server;
  const digests: Array<{ at: number; hub: string }> = [];
  const agents = new Map<string, { process: VigilProcess; url: string }>();

  const vigil = async (hub: HubProcess, args: string[]) => {
    const child = spawnVigil(args, { VIGIL_HUB_URL: hub.url, VIGIL_HUB_TOKEN: admin });
    const code = await child.exited;
    if (code !== 0) throw new Error(`vigil ${args.join(' ')} exited ${code}\n${child.stdout()}\n${child.stderr()}`);
    return child.stdout();
  };
  const pushAndDeploy = async (hub: HubProcess, version: string) => {
    const file = join(dir, `${MODEL}-${version}.vmodel`);
    writeFileSync(file, await pcaPackage({ name: MODEL, version, tags: PUMP1_TAGS, samplePeriodMs: 100, warn: 1e9, manifest: { missingData: LENIENT_MISSING_DATA, normalization: { mean: [100, 5, 50, 1], std: [10, 1, 5, 0.5] } } }));
    await vigil(hub, ['model', 'push', file]);
    const out = await vigil(hub, ['hub', 'deploy', MODEL, version, '--label', 'fleet=replicas']);
    const id = new RegExp(`^(\\S+)\\s+${MODEL}@${version.replace(/\./g, '\\.')}\\s`, 'm').exec(out)?.[1];
    if (!id) throw new Error(`no deployment id in:\n${out}`);
    return id;
  };
  const agentsSeenBy = async (hub: HubProcess) => (await api(hub.url, '/api/agents', { token: admin })).json.agents as AgentView[];
  const replicaStart = (id: string, port: number) =>
    startHubProcess({
      id,
      postgres: { url: db.url },
      sync: { heartbeatMs: 1000, offlineAfterMs: 5000 },
      extraYaml: ['digest:', `  every: ${DIGEST_EVERY_S / 60}`, `  webhookUrl: http://127.0.0.1:${port}/digest`, '  sendEmpty: true'],
    });

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'vigil-replicas-'));
    webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        digests.push({ at: Date.now(), hub: (JSON.parse(body) as { hub: string }).hub });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
    const port = (webhook.address() as AddressInfo).port;
    plant = await startOpcuaPlant({ port: 0, pumps: 1, updateIntervalMs: 200 });
    // Together: both apply migrations at once, which the migration lock must serialise.
    [replicaA, replicaB] = await Promise.all([replicaStart('replica-a', port), replicaStart('replica-b', port)]);
    admin = await replicaA.addApiToken('e2e-admin', 'admin');
    const publicKeyPem = (await api(replicaA.url, '/api/signing-key')).text;
    expect((await api(replicaB.url, '/api/signing-key')).text).toBe(publicKeyPem);
    for (const [i, id] of AGENTS.entries()) {
      const token = await replicaA.addAgent(id, { fleet: 'replicas' });
      const agentDir = join(dir, id);
      mkdirSync(agentDir);
      const [first, second] = i === 0 ? [replicaA, replicaB] : [replicaB, replicaA];
      const hubUrls = [first, second].map((h) => h.url.replace(/^http/, 'ws'));
      const config = writeSyncedAgentConfig(agentDir, { id, endpoint: plant.endpoint, hubUrls, token, publicKeyPem });
      const process = spawnVigil(['agent', '--config', config]);
      agents.set(id, { process, url: '' });
    }
    for (const a of agents.values()) a.url = String((await a.process.waitForLog('agent running', 60_000)).http);
  }, 180_000);

  afterAll(async () => {
    for (const a of agents.values()) a.process.child.kill('SIGTERM');
    for (const a of agents.values()) await a.process.exited;
    await replicaA?.stop();
    await replicaB?.stop();
    await plant?.stop();
    await new Promise((r) => webhook?.close(r));
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('spreads agents over both replicas, and each replica sees them all', async () => {
    for (const hub of [replicaA, replicaB]) {
      await eventually(async () => {
        const seen = await agentsSeenBy(hub);
        const where = Object.fromEntries(seen.map((a) => [a.id, a.online ? a.connectedTo : null]));
        return where['rep-a'] === 'replica-a' && where['rep-b'] === 'replica-b' ? true : undefined;
      }, `replica ${hub.url} to show rep-a on A and rep-b on B`, 60_000);
    }
  }, 90_000);

  it('refuses to start a third process with the id of a running replica', async () => {
    const duplicate = await runVigil(['hub', '--config', replicaB.configFile]);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stdout + duplicate.stderr).toContain('another hub replica is running with hub.id replica-b');
    // The running replica is unharmed.
    expect((await api(replicaB.url, '/api/health')).status).toBe(200);
  }, 60_000);

  it('a deployment made on replica A reaches the agent connected to B', async () => {
    const deployment = await pushAndDeploy(replicaA, '1.0.0');
    await eventually(async () => ((await api(replicaB.url, `/api/deployments/${deployment}`, { token: admin })).json.state === 'completed' ? true : undefined), 'deployment 1.0.0 to complete', 90_000);
    for (const [id, a] of agents) {
      await eventually(async () => ((await agentModels(a.url)).find((m) => m.name === MODEL)?.active === '1.0.0' ? true : undefined), `${id} to run 1.0.0`, 30_000);
    }
    for (const id of AGENTS) {
      await eventually(async () => ((await hubScores(replicaA, admin, id)).total > 5 ? true : undefined), `scores of ${id} on the hub`, 60_000);
    }
  }, 150_000);

  it('fetches history for training on replica A from the agent connected to B', async () => {
    const now = Date.now();
    const response = await api(replicaA.url, '/api/models/train', {
      token: admin,
      body: { agent: 'rep-b', tags: PUMP1_TAGS, from: now - 20_000, to: now, name: 'learned-across', samplePeriodMs: 100, windowLength: 30, hop: 1, missingData: { maxFilledShare: 0.95, forwardFillMaxAgeMs: 2000 } },
    });
    expect(response.status, response.text).toBe(201);
    expect(response.json.record).toMatchObject({ name: 'learned-across', version: '1.0.0' });
  }, 90_000);

  it('loses nothing when replica A is killed during uploads; the survivor deploys to every agent', async () => {
    const before = (await hubScores(replicaB, admin, 'rep-a')).total;
    replicaA.process.child.kill('SIGKILL');
    await replicaA.process.exited;
    // rep-a moves to B and keeps uploading there.
    await eventually(async () => {
      const h = (await agentHealth(agents.get('rep-a')!.url)) as unknown as { hub: { connected: boolean; url: string } };
      return h.hub.connected && h.hub.url.startsWith(replicaB.url.replace(/^http/, 'ws')) ? true : undefined;
    }, 'rep-a to fail over to replica B', 30_000);
    await eventually(async () => ((await hubScores(replicaB, admin, 'rep-a')).total > before + 5 ? true : undefined), 'rep-a’s scores to arrive through replica B', 60_000);
    const where = await eventually(async () => {
      const seen = await agentsSeenBy(replicaB);
      return seen.every((a) => a.online && a.connectedTo === 'replica-b') ? seen : undefined;
    }, 'replica B to show both agents on it', 30_000);
    expect(where).toHaveLength(2);

    const deployment = await pushAndDeploy(replicaB, '1.1.0');
    const done = await eventually(async () => {
      const view = (await api(replicaB.url, `/api/deployments/${deployment}`, { token: admin })).json;
      return view.state === 'rolling_out' ? undefined : view;
    }, 'deployment 1.1.0 to finish', 90_000);
    expect(done, JSON.stringify(done)).toMatchObject({ state: 'completed', targets: AGENTS.map(() => expect.objectContaining({ status: 'active' })) });
    // An agent reports active once the version is staged; it takes over at the next window boundary (within a hop).
    for (const [id, a] of agents) {
      await eventually(async () => ((await agentModels(a.url)).find((m) => m.name === MODEL)?.active === '1.1.0' ? true : undefined), `${id} to run 1.1.0`, 30_000);
    }

    // Exactly once, across the replica that died with batches in flight and the one that took over.
    for (const [id, a] of agents) {
      await drained(a.url, 60_000);
      const scores = await hubScores(replicaB, admin, id);
      expect(scores.total).toBeGreaterThan(10);
      expectGapFreeOnce(scores);
    }
  }, 240_000);

  it('answers 503 on /api/health while the database is unreachable, and carries on without loss when it is back', async () => {
    expect((await api(replicaB.url, '/api/health')).status).toBe(200);
    await maintenance(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`);
    await maintenance(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${db.name}'`);
    try {
      const down = await eventually(async () => {
        const health = await api(replicaB.url, '/api/health');
        return health.status === 503 ? health : undefined;
      }, 'the replica to report its storage unavailable', 30_000);
      expect(down.json).toMatchObject({ status: 'unavailable', storage: 'postgres', error: expect.stringContaining('postgres storage') });
      // Agents keep scoring into their outboxes meanwhile.
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      await maintenance(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`);
    }
    await eventually(async () => ((await api(replicaB.url, '/api/health')).status === 200 ? true : undefined), 'the replica to be healthy again', 30_000);
    for (const [id, a] of agents) {
      await drained(a.url, 90_000);
      const scores = await hubScores(replicaB, admin, id);
      expectGapFreeOnce(scores);
    }
  }, 180_000);

  it('sent the digest once per period across both replicas', () => {
    // Both replicas ran the schedule the whole time; a period claimed twice would show two sends within it.
    expect(digests.length).toBeGreaterThanOrEqual(3);
    const gaps = digests.slice(1).map((d, i) => d.at - digests[i]!.at);
    expect(Math.min(...gaps)).toBeGreaterThan((DIGEST_EVERY_S * 1000) / 2);
    const span = digests.at(-1)!.at - digests[0]!.at;
    expect(digests.length).toBeLessThanOrEqual(Math.floor(span / (DIGEST_EVERY_S * 1000)) + 2);
    // Both replicas took part (the schedule is shared, not pinned to one of them).
    expect(new Set(digests.map((d) => d.hub)).size).toBeGreaterThanOrEqual(1);
  });
});
