import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpcuaPlant, type OpcuaPlant } from '../../agent/demo/opcua-plant.js';
import { requireBroker } from '../helpers/broker.js';
import { eventually, spawnVigil, type VigilProcess } from '../helpers/agent-process.js';
import { api, runVigil, startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { PUMP1_TAGS, pcaPackage } from '../helpers/pca-package.js';
import { LENIENT_MISSING_DATA, agentHealth, agentModels, drained, expectGapFreeOnce, hubScores, writeSyncedAgentConfig } from '../helpers/sync-e2e.js';
import { WsFaultProxy } from '../helpers/ws-fault-proxy.js';

const AGENT = 'e2e-sync';
const MODEL = 'pump1-pca';

/**
 * The whole path as it runs at a plant, every part a real process or server:
 * `vigil hub`, `vigil agent` reading an in-process OPC UA server and the
 * machine's Mosquitto, models pushed and deployed with the `vigil` command
 * line. A fault proxy sits between agent and hub (to lose acks, tamper with
 * downloads and let the hub restart on a new port). The steps build on each
 * other, in order.
 */
describe('hub and agent end to end (real processes)', () => {
  let plant: OpcuaPlant;
  let dir: string;
  let hub: HubProcess;
  let proxy: WsFaultProxy;
  let agent: VigilProcess;
  let agentUrl: string;
  let admin: string;
  let brokerUrl: string;
  let publisher: mqtt.MqttClient;
  let publishTimer: NodeJS.Timeout;
  const deployments: Record<string, string> = {};
  const topic = `vigil-sync-e2e-${process.pid}-${Date.now()}`;

  const cliEnv = () => ({ VIGIL_HUB_URL: hub.url, VIGIL_HUB_TOKEN: admin });
  const vigil = async (args: string[]) => {
    const child = spawnVigil(args, cliEnv());
    const code = await child.exited;
    if (code !== 0) throw new Error(`vigil ${args.join(' ')} exited ${code}\n${child.stdout()}\n${child.stderr()}`);
    return child.stdout();
  };
  const push = async (version: string, warn: number, std = [10, 1, 5, 0.5]) => {
    const file = join(dir, `${MODEL}-${version}.vmodel`);
    writeFileSync(file, await pcaPackage({ name: MODEL, version, tags: PUMP1_TAGS, samplePeriodMs: 100, warn, manifest: { missingData: LENIENT_MISSING_DATA, normalization: { mean: [100, 5, 50, 1], std } } }));
    await vigil(['model', 'push', file]);
  };
  const deploy = async (version: string, extra: string[] = []) => {
    const out = await vigil(['hub', 'deploy', MODEL, version, '--agent', AGENT, ...extra]);
    const id = new RegExp(`^(\\S+)\\s+${MODEL}@${version.replace(/\./g, '\\.')}\\s`, 'm').exec(out)?.[1];
    if (!id) throw new Error(`no deployment id in:\n${out}`);
    deployments[version] = id;
    return id;
  };
  const deploymentView = async (id: string) => (await api(hub.url, `/api/deployments/${id}`, { token: admin })).json as { state: string; targets: Array<{ agent: string; status: string; reason: string | null }> };
  const newestScore = async () => (await api(hub.url, `/api/records/scores?agent=${AGENT}&limit=20`, { token: admin })).json.records as Array<{ body: { version: string; shadow: boolean } }>;

  beforeAll(async () => {
    brokerUrl = await requireBroker();
    plant = await startOpcuaPlant({ port: 0, pumps: 1, updateIntervalMs: 200 });
    dir = mkdtempSync(join(tmpdir(), 'vigil-sync-e2e-'));
    mkdirSync(join(dir, 'hub'));
    hub = await startHubProcess({ dir: join(dir, 'hub'), sync: { heartbeatMs: 1000, offlineAfterMs: 5000 } });
    proxy = await WsFaultProxy.start(hub.url);
    admin = await hub.addApiToken('e2e-admin', 'admin');
    const token = await hub.addAgent(AGENT, { line: '1' });
    const publicKeyPem = (await api(hub.url, '/api/signing-key')).text;
    // An MQTT tag beside the OPC UA ones: both kinds of source count in the health the hub sees.
    const config = writeSyncedAgentConfig(dir, {
      id: AGENT,
      endpoint: plant.endpoint,
      hubUrl: proxy.url,
      token,
      publicKeyPem,
      extraSources: [`{ name: broker, type: mqtt, url: "${brokerUrl}", clientId: "${topic}" }`],
      extraTags: [`{ name: line.level, source: broker, topic: "${topic}/level", format: number }`],
    });
    publisher = await mqtt.connectAsync(brokerUrl, { clientId: `${topic}-pub` });
    publishTimer = setInterval(() => void publisher.publish(`${topic}/level`, String(40 + Math.random())), 200);
    agent = spawnVigil(['agent', '--config', config]);
    agentUrl = String((await agent.waitForLog('agent running', 60_000)).http);
  }, 120_000);

  afterAll(async () => {
    clearInterval(publishTimer);
    await publisher?.endAsync();
    agent?.child.kill('SIGTERM');
    await agent?.exited;
    await proxy?.stop();
    await hub?.stop(true);
    await plant?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('deploys a pushed version to the agent, then shadows and activates the next; results arrive once and carry their version', async () => {
    await push('1.0.0', 1e9);
    await deploy('1.0.0');
    await eventually(async () => ((await deploymentView(deployments['1.0.0']!)).state === 'completed' ? true : undefined), 'deployment of 1.0.0 to complete', 60_000);
    expect((await agentModels(agentUrl))[0]).toMatchObject({ name: MODEL, active: '1.0.0' });
    await eventually(async () => ((await newestScore()).some((r) => r.body.version === '1.0.0') ? true : undefined), 'scores of 1.0.0 on the hub', 60_000);

    await push('1.1.0', 1e9);
    const shadowed = await deploy('1.1.0', ['--shadow', '4s']);
    await eventually(async () => ((await deploymentView(shadowed)).targets[0]?.status === 'shadow' ? true : undefined), 'the agent to report 1.1.0 in shadow', 60_000);
    await eventually(async () => ((await newestScore()).some((r) => r.body.version === '1.1.0' && r.body.shadow) ? true : undefined), 'shadow scores of 1.1.0 on the hub', 60_000);
    expect((await agentModels(agentUrl))[0]).toMatchObject({ active: '1.0.0', shadow: '1.1.0' });

    // After the shadow period the hub activates it; the next results carry 1.1.0.
    await eventually(async () => ((await deploymentView(shadowed)).state === 'completed' ? true : undefined), 'the shadow deployment to complete', 60_000);
    await eventually(async () => ((await agentModels(agentUrl))[0]?.active === '1.1.0' ? true : undefined), 'the agent to run 1.1.0', 30_000);
    await eventually(async () => {
      const newest = (await newestScore()).filter((r) => !r.body.shadow);
      return newest[0]?.body.version === '1.1.0' ? true : undefined;
    }, 'the newest active scores to carry 1.1.0', 60_000);

    // The hub sees the gateway: online, software, models, and live tags from both sources.
    // Models and health reach the hub with the next heartbeat (every second here).
    const view = await eventually(async () => {
      const seen = (await api(hub.url, `/api/agents/${AGENT}`, { token: admin })).json;
      const v = seen.agent ?? seen;
      return v.models?.find((m: { name: string; active: string }) => m.name === MODEL)?.active === '1.1.0' ? v : undefined;
    }, 'the hub to see the agent run 1.1.0');
    expect(view).toMatchObject({ online: true, labels: { line: '1' } });
    expect(view.health.tagsLive).toBeGreaterThanOrEqual(5);
    expect(view.health.sourcesConnected).toBe(2);
    expect(view.models.find((m: { name: string }) => m.name === MODEL)).toMatchObject({ active: '1.1.0' });

    await drained(agentUrl);
    expectGapFreeOnce(await hubScores(hub, admin, AGENT));
  }, 240_000);

  it('keeps scoring while the hub is down; the backlog drains in order afterwards, nothing lost or doubled', async () => {
    const before = (await hubScores(hub, admin, AGENT)).total;
    await hub.stop(true);
    // Scoring goes on into the outbox.
    const backlog = await eventually(async () => {
      const h = await agentHealth(agentUrl);
      return !h.hub.connected && h.hub.backlog.scores >= 12 ? h.hub.backlog.scores : undefined;
    }, 'a backlog of scores while the hub is away', 60_000);
    expect(backlog).toBeGreaterThanOrEqual(12);

    hub = await startHubProcess({ dir: join(dir, 'hub'), sync: { heartbeatMs: 1000, offlineAfterMs: 5000 } });
    proxy.retarget(hub.url);
    await drained(agentUrl, 60_000);
    const after = await hubScores(hub, admin, AGENT);
    expect(after.total).toBeGreaterThanOrEqual(before + backlog);
    expectGapFreeOnce(after);
  }, 180_000);

  it('loses and duplicates acks and batches: the agent resends, the hub stays idempotent', async () => {
    const duplicatesBefore = await duplicateCount(hub.url);
    let batches = 0;
    proxy.agentToHub = (m) => (m.type === 'batch' && ++batches % 3 === 0 ? 'duplicate' : 'pass');
    let acks = 0;
    proxy.hubToAgent = (m) => {
      if (m.type !== 'ack') return 'pass';
      acks++;
      return acks % 2 === 0 ? 'drop' : acks % 3 === 0 ? 'duplicate' : 'pass';
    };
    await eventually(async () => (acks >= 12 ? true : undefined), 'a dozen acks through the proxy', 60_000);
    // The last acks of this connection were lost: a new connection resends from what the hub stored.
    proxy.hubToAgent = (m) => (m.type === 'ack' ? 'drop' : 'pass');
    await new Promise((r) => setTimeout(r, 3000));
    proxy.cut();
    proxy.hubToAgent = () => 'pass';
    proxy.agentToHub = () => 'pass';
    await drained(agentUrl, 60_000);
    expect(proxy.seen.dropped).toBeGreaterThan(0);
    expect(proxy.seen.duplicated).toBeGreaterThan(0);
    expectGapFreeOnce(await hubScores(hub, admin, AGENT));
    // What came twice was recognised and not stored again.
    expect(await duplicateCount(hub.url)).toBeGreaterThan(duplicatesBefore);
  }, 180_000);

  it('refuses a package tampered with in transit and reports why; the active version keeps scoring', async () => {
    await push('1.2.0', 1e9);
    proxy.tamperPackage = (bytes) => {
      const copy = Buffer.from(bytes);
      copy[copy.length >> 1] = (copy[copy.length >> 1] ?? 0) ^ 0xff;
      return copy;
    };
    try {
      const id = await deploy('1.2.0');
      const target = await eventually(async () => {
        const t = (await deploymentView(id)).targets[0];
        return t?.status === 'refused' ? t : undefined;
      }, 'the agent to refuse the tampered package', 60_000);
      expect(target.reason).toMatch(/sha256/);
      const models = await agentModels(agentUrl);
      expect(models[0]).toMatchObject({ active: '1.1.0', lastRefusal: { version: '1.2.0' } });
      expect(agent.stdout()).toContain('VIGIL_MODEL_SIGNATURE_INVALID');
    } finally {
      proxy.tamperPackage = null;
    }
    const scored = (await hubScores(hub, admin, AGENT)).total;
    await eventually(async () => ((await hubScores(hub, admin, AGENT)).total > scored + 5 ? true : undefined), '1.1.0 to keep scoring', 60_000);
  }, 120_000);

  it('rolls a deployment back by command: the agent returns to the previous version', async () => {
    const out = await vigil(['hub', 'rollback', deployments['1.1.0']!, '--reason', 'e2e']);
    expect(out).toContain('rolls back');
    await eventually(async () => ((await agentModels(agentUrl))[0]?.active === '1.0.0' ? true : undefined), 'the agent to run 1.0.0 again', 60_000);
    expect((await deploymentView(deployments['1.1.0']!)).state).toBe('rolled_back');
    await eventually(async () => {
      const newest = (await newestScore()).filter((r) => !r.body.shadow);
      return newest[0]?.body.version === '1.0.0' ? true : undefined;
    }, 'the newest scores to carry 1.0.0 again', 60_000);
  }, 120_000);

  it('a version that fails at run time is reported failed and the hub rolls the deployment back automatically', async () => {
    // A tiny std: the dry run on a zero window passes, real values overflow to Infinity.
    await push('1.3.0', 1e9, [1e-30, 1e-30, 1e-30, 1e-30]);
    const id = await deploy('1.3.0');
    const failed = await eventually(async () => {
      const view = await deploymentView(id);
      return view.state === 'rolled_back' ? view : undefined;
    }, 'the hub to roll the failed deployment back', 60_000);
    expect(failed.targets[0]).toMatchObject({ status: 'failed' });
    expect(failed.targets[0]?.reason).toMatch(/VIGIL_MODEL_FAULT/);
    await eventually(async () => ((await agentModels(agentUrl))[0]?.active === '1.0.0' ? true : undefined), 'the agent to run 1.0.0 after the fault', 30_000);
  }, 120_000);

  it('an agent with a wrong token is refused with 401 and says so; the hub serves the others', async () => {
    const wrong = writeSyncedAgentConfig(dir, { id: 'e2e-intruder', endpoint: plant.endpoint, hubUrl: hub.url.replace(/^http/, 'ws'), token: 'vga_' + 'x'.repeat(43), publicKeyPem: (await api(hub.url, '/api/signing-key')).text });
    await runVigil(['hub', 'agents', 'add', 'e2e-intruder', '--config', hub.configFile]);
    const intruder = spawnVigil(['agent', '--config', wrong]);
    try {
      const url = String((await intruder.waitForLog('agent running', 60_000)).http);
      const health = await eventually(async () => {
        const h = await agentHealth(url);
        return h.hub.lastError && /401|unauthori/i.test(h.hub.lastError) ? h : undefined;
      }, 'the refused agent to report 401', 30_000);
      expect(health.hub.connected).toBe(false);
      expect(intruder.stdout()).toContain('VIGIL_HUB_UNAUTHORIZED');
      expect((await agentHealth(agentUrl)).hub.connected).toBe(true);
    } finally {
      intruder.child.kill('SIGTERM');
      await intruder.exited;
    }
  }, 120_000);
});

async function duplicateCount(hubUrl: string): Promise<number> {
  const text = await (await fetch(`${hubUrl}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(/^vigil_hub_records_duplicate_total\{[^}]*\} (\d+)/gm)) total += Number(m[1]);
  return total;
}
