import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpcuaPlant, type OpcuaPlant } from '../../agent/demo/opcua-plant.js';
import { eventually, spawnVigil, type VigilProcess } from '../helpers/agent-process.js';
import { api, startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { PUMP1_TAGS } from '../helpers/pca-package.js';
import { agentModels, writeSyncedAgentConfig } from '../helpers/sync-e2e.js';

const AGENT = 'e2e-learn';
const MODEL = 'pump1-learned';
/** History gathered before training; the model learns from the last TRAIN_S of it. */
const GATHER_MS = 45_000;
const TRAIN_S = 40;

interface ScoreRecord {
  body: { model: string; version: string; shadow: boolean; status: string; level: string; score: number | null };
}

/**
 * Learn normal behaviour end to end, every part a real process: `vigil agent`
 * reads pump 1 of the OPC UA demo plant into its raw history; `vigil hub train`
 * has the hub fetch that history over the agent's sync connection, train and
 * register a version; `vigil hub deploy` sends it back to the same agent, which
 * runs it on live data and syncs its scores to the hub.
 */
describe('a model trained from an agent’s history (real processes)', () => {
  let plant: OpcuaPlant;
  let dir: string;
  let hub: HubProcess;
  let agent: VigilProcess;
  let agentUrl: string;
  let admin: string;

  const vigil = async (args: string[]) => {
    const child = spawnVigil(args, { VIGIL_HUB_URL: hub.url, VIGIL_HUB_TOKEN: admin });
    const code = await child.exited;
    if (code !== 0) throw new Error(`vigil ${args.join(' ')} exited ${code}\n${child.stdout()}\n${child.stderr()}`);
    return { stdout: child.stdout(), stderr: child.stderr() };
  };

  beforeAll(async () => {
    plant = await startOpcuaPlant({ port: 0, pumps: 1, updateIntervalMs: 200 });
    dir = mkdtempSync(join(tmpdir(), 'vigil-learn-e2e-'));
    hub = await startHubProcess({ sync: { heartbeatMs: 1000, offlineAfterMs: 5000 } });
    admin = await hub.addApiToken('e2e-admin', 'admin');
    const token = await hub.addAgent(AGENT);
    const publicKeyPem = (await api(hub.url, '/api/signing-key')).text;
    const config = writeSyncedAgentConfig(dir, { id: AGENT, endpoint: plant.endpoint, hubUrl: hub.syncUrl.replace(/\/sync$/, ''), token, publicKeyPem });
    agent = spawnVigil(['agent', '--config', config]);
    agentUrl = String((await agent.waitForLog('agent running', 60_000)).http);
  }, 120_000);

  afterAll(async () => {
    agent?.child.kill('SIGTERM');
    await agent?.exited;
    await hub?.stop();
    await plant?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('trains from the agent’s history through the hub, deploys the version to the agent, and its live scores reach the hub', async () => {
    await new Promise((r) => setTimeout(r, GATHER_MS));
    // The plant changes its values every 200 ms (and drifts under load): at a 100 ms sample period about half the cells are forward-filled.
    const run = await vigil(['hub', 'train', '--agent', AGENT, '--tags', PUMP1_TAGS.join(','), '--last', `${TRAIN_S}s`, '--name', MODEL, '--period-ms', '100', '--window', '30', '--hop', '1', '--max-filled-share', '0.95', '--fill-max-age', '2s', '--margin', '3']);
    const trained = run.stdout;
    expect(trained).toContain(`✔ trained ${MODEL}@1.0.0`);
    // The training ran as a job on the hub, followed with progress lines on stderr.
    expect(run.stderr).toMatch(new RegExp(`^ {2}… fetching history: the history of ${PUMP1_TAGS.length} tags from ${AGENT} \\(\\d+ s\\)$`, 'm'));
    const samples = /data\s+(.*)/.exec(trained)?.[1] ?? '';
    // The plant publishes every 200 ms, but its timer drifts on a loaded machine: require real data, not a rate.
    for (const tag of PUMP1_TAGS) expect(Number(new RegExp(`${tag.replace('.', '\\.')} (\\d+)`).exec(samples)?.[1])).toBeGreaterThan(TRAIN_S / 2);

    const version = (await api(hub.url, `/api/models/${MODEL}/versions/1.0.0`, { token: admin })).json;
    expect(version.manifest).toMatchObject({ tags: PUMP1_TAGS, samplePeriodMs: 100, windowLength: 30 });
    expect(version.manifest.lineage.sources).toEqual([expect.objectContaining({ kind: 'agent-history', name: AGENT })]);
    expect(version.manifest.lineage).toMatchObject({ method: 'pca-t2q/1', parameters: { margin: 3 } });

    const deployed = (await vigil(['hub', 'deploy', MODEL, '1.0.0', '--agent', AGENT])).stdout;
    const deployment = new RegExp(`^(\\S+)\\s+${MODEL}@1\\.0\\.0\\s`, 'm').exec(deployed)?.[1];
    expect(deployment, deployed).toBeDefined();
    await eventually(async () => ((await api(hub.url, `/api/deployments/${deployment}`, { token: admin })).json.state === 'completed' ? true : undefined), 'the deployment to complete', 60_000);
    expect((await agentModels(agentUrl)).find((m) => m.name === MODEL)).toMatchObject({ active: '1.0.0' });

    const scores = await eventually(async () => {
      const records = (await api(hub.url, `/api/records/scores?agent=${AGENT}&limit=500`, { token: admin })).json.records as ScoreRecord[];
      const ours = records.filter((r) => r.body.model === MODEL && r.body.version === '1.0.0' && !r.body.shadow && r.body.status === 'scored');
      return ours.length >= 20 ? ours : undefined;
    }, 'scores of the trained version on the hub', 60_000);
    expect(scores.every((r) => typeof r.body.score === 'number' && Number.isFinite(r.body.score))).toBe(true);
    const levels = scores.reduce<Record<string, number>>((n, r) => ({ ...n, [r.body.level]: (n[r.body.level] ?? 0) + 1 }), {});
    // What the trained model makes of live data from the same plant (reported, not asserted: the plant is not a calibrated process).
    console.info(`live scores of ${MODEL}@1.0.0 (warn ≥ ${version.manifest.thresholds.warn}, alarm ≥ ${version.manifest.thresholds.alarm}): ${JSON.stringify(levels)}; scores ${scores.slice(0, 10).map((r) => r.body.score?.toFixed(2)).join(' ')} …`);
  }, 240_000);
});
