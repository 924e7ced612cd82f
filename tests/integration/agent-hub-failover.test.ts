import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpcuaPlant, type OpcuaPlant } from '../../agent/demo/opcua-plant.js';
import { eventually, spawnVigil, type VigilProcess } from '../helpers/agent-process.js';
import { api, startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { PUMP1_TAGS, pcaPackage } from '../helpers/pca-package.js';
import { LENIENT_MISSING_DATA, agentModels, hubScores, writeSyncedAgentConfig } from '../helpers/sync-e2e.js';

const AGENT = 'failover-gw';
const MODEL = 'pump1-pca';
const SYNC = { heartbeatMs: 1000, offlineAfterMs: 5000 };
/** Long enough that a backoff between replicas would show: the first backoff waits 2–4 s. */
const INITIAL_DELAY_MS = 4000;

interface FailoverHealth {
  hub: { connected: boolean; url: string; urls: string[]; failovers: number };
}

/** A ws:// URL on a port that was free a moment ago: connecting to it is refused at once. */
async function deadHubUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `ws://127.0.0.1:${port}`;
}

const wsUrl = (hub: HubProcess) => hub.url.replace(/^http/, 'ws');

/**
 * Two real `vigil hub` processes stand in for two replicas: each has its own
 * LMDB (sharing state between replicas is the PostgreSQL backend's job), made
 * from one copied data folder so both know the agent, its token, the admin
 * token and the signing key. The agent lists a dead URL first, then both.
 */
describe('agent with several hub URLs (real processes)', () => {
  let plant: OpcuaPlant;
  let dir: string;
  let hubA: HubProcess;
  let hubB: HubProcess;
  let admin: string;
  let dead: string;
  let agent: VigilProcess;
  let agentUrl: string;

  const health = async () => (await (await fetch(`${agentUrl}/healthz`)).json()) as FailoverHealth;
  const logLines = () =>
    agent
      .stdout()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown> & { msg: string; time: number });

  beforeAll(async () => {
    plant = await startOpcuaPlant({ port: 0, pumps: 1, updateIntervalMs: 200 });
    dir = mkdtempSync(join(tmpdir(), 'vigil-hub-failover-'));
    mkdirSync(join(dir, 'hub-a'));
    const first = await startHubProcess({ dir: join(dir, 'hub-a'), sync: SYNC });
    let token: string;
    let publicKeyPem: string;
    try {
      token = await first.addAgent(AGENT);
      admin = await first.addApiToken('failover-admin', 'admin');
      publicKeyPem = (await api(first.url, '/api/signing-key')).text;
    } finally {
      await first.stop(true);
    }
    // Copied while no hub has it open: the second replica starts with the same agents, tokens and key.
    cpSync(join(dir, 'hub-a'), join(dir, 'hub-b'), { recursive: true });
    [hubA, hubB] = await Promise.all([startHubProcess({ dir: join(dir, 'hub-a'), sync: SYNC }), startHubProcess({ dir: join(dir, 'hub-b'), sync: SYNC })]);
    dead = await deadHubUrl();

    const config = writeSyncedAgentConfig(dir, { id: AGENT, endpoint: plant.endpoint, hubUrls: [dead, wsUrl(hubA), wsUrl(hubB)], token, publicKeyPem });
    const text = readFileSync(config, 'utf8');
    const slow = text.replace(/reconnect: \{ initialDelayMs: \d+, maxDelayMs: \d+ \}/, `reconnect: { initialDelayMs: ${INITIAL_DELAY_MS}, maxDelayMs: 60000 }`);
    expect(slow).not.toBe(text);
    writeFileSync(config, slow);
    agent = spawnVigil(['agent', '--config', config]);
    agentUrl = String((await agent.waitForLog('agent running', 60_000)).http);
  }, 120_000);

  afterAll(async () => {
    agent?.child.kill('SIGTERM');
    await agent?.exited;
    await hubA?.stop();
    await hubB?.stop();
    await plant?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('skips the dead first URL at once and connects to the first replica without a backoff', async () => {
    await eventually(async () => ((await health()).hub.connected ? true : undefined), 'the agent to connect', 20_000);
    const h = (await health()).hub;
    expect(h.url).toBe(wsUrl(hubA));
    expect(h.urls).toEqual([dead, wsUrl(hubA), wsUrl(hubB)]);
    expect(h.failovers).toBe(1);

    const logs = logLines();
    const refused = logs.find((l) => l.code === 'VIGIL_HUB_UNREACHABLE');
    const connected = logs.find((l) => l.msg === 'connected to the hub');
    expect(refused).toMatchObject({ hub: `${dead}/sync`, retryInMs: 0 });
    expect(logs.some((l) => l.msg === `hub link moving to ${wsUrl(hubA)}`)).toBe(true);
    expect(connected).toMatchObject({ url: wsUrl(hubA) });
    // A backoff would have waited at least INITIAL_DELAY_MS / 2.
    expect(connected!.time - refused!.time).toBeLessThan(INITIAL_DELAY_MS / 2);
  }, 30_000);

  it('moves to the other replica within seconds when the connected one is killed', async () => {
    hubA.process.child.kill('SIGKILL');
    await hubA.process.exited;
    const killedAt = Date.now();
    const h = await eventually(async () => {
      const hub = (await health()).hub;
      return hub.connected && hub.url === wsUrl(hubB) ? hub : undefined;
    }, 'the agent to connect to hub B', 15_000);
    // One wait of at most initialDelayMs after the drop, then the handshake.
    expect(Date.now() - killedAt).toBeLessThan(INITIAL_DELAY_MS + 5000);
    expect(h.failovers).toBeGreaterThanOrEqual(2);
    expect(logLines().some((l) => l.msg === `hub link moving to ${wsUrl(hubB)}`)).toBe(true);
    const metrics = await (await fetch(`${agentUrl}/metrics`)).text();
    expect(Number(/^vigil_sync_failovers_total (\d+)$/m.exec(metrics)?.[1])).toBe(h.failovers);
  }, 30_000);

  it('downloads a deployment from the replica that sent it, and its results arrive there', async () => {
    const file = join(dir, `${MODEL}-1.0.0.vmodel`);
    writeFileSync(file, await pcaPackage({ name: MODEL, version: '1.0.0', tags: PUMP1_TAGS, samplePeriodMs: 100, warn: 1e9, manifest: { missingData: LENIENT_MISSING_DATA, normalization: { mean: [100, 5, 50, 1], std: [10, 1, 5, 0.5] } } }));
    const env = { VIGIL_HUB_URL: hubB.url, VIGIL_HUB_TOKEN: admin };
    for (const args of [
      ['model', 'push', file],
      ['hub', 'deploy', MODEL, '1.0.0', '--agent', AGENT],
    ]) {
      const child = spawnVigil(args, env);
      const code = await child.exited;
      if (code !== 0) throw new Error(`vigil ${args.join(' ')} exited ${code}\n${child.stdout()}\n${child.stderr()}`);
    }
    await eventually(async () => ((await agentModels(agentUrl))[0]?.active === '1.0.0' ? true : undefined), 'the agent to run 1.0.0 from hub B', 60_000);
    await eventually(async () => ((await hubScores(hubB, admin, AGENT)).total > 0 ? true : undefined), 'scores to arrive at hub B', 60_000);
  }, 120_000);
});
