import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpcuaPlant, type OpcuaPlant } from '../../agent/demo/opcua-plant.js';
import { eventually, spawnVigil, type VigilProcess } from '../helpers/agent-process.js';
import { api, startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { PUMP1_TAGS, pcaPackage } from '../helpers/pca-package.js';
import { LENIENT_MISSING_DATA, drained, expectGapFreeOnce, hubScores, writeSyncedAgentConfig } from '../helpers/sync-e2e.js';

/** Debian's libfaketime (`apt-get install faketime`; .ci/run installs it). */
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const AGENT = 'e2e-clock';

/**
 * Fault matrix row 14: the gateway's clock steps an hour forward, then an
 * hour back, while it runs. The agent process runs under libfaketime reading
 * its offset from a file (re-read every second); the hub, the OPC UA server
 * and this test keep the real time. Expected: records keep their seq order
 * and arrive exactly once, no history is expired early, the hub flags the skew.
 */
describe('a clock step of ±1 h on the gateway', () => {
  let plant: OpcuaPlant;
  let dir: string;
  let hub: HubProcess;
  let agent: VigilProcess;
  let agentUrl: string;
  let admin: string;
  const offsetFile = () => join(dir, 'faketime');

  beforeAll(async () => {
    // Fails (never skips) without libfaketime: CI must install it.
    expect(existsSync(LIBFAKETIME), `${LIBFAKETIME} is missing: apt-get install faketime`).toBe(true);
    plant = await startOpcuaPlant({ port: 0, pumps: 1, updateIntervalMs: 200 });
    dir = mkdtempSync(join(tmpdir(), 'vigil-clock-step-'));
    mkdirSync(join(dir, 'hub'));
    hub = await startHubProcess({ dir: join(dir, 'hub'), sync: { heartbeatMs: 1000, offlineAfterMs: 5000 } });
    admin = await hub.addApiToken('clock-admin', 'admin');
    const token = await hub.addAgent(AGENT);
    const config = writeSyncedAgentConfig(dir, { id: AGENT, endpoint: plant.endpoint, hubUrl: hub.url.replace(/^http/, 'ws'), token, publicKeyPem: (await api(hub.url, '/api/signing-key')).text });
    // Half an hour of history: a clock an hour ahead would expire all of it if retention trusted the wall clock.
    writeFileSync(config, readFileSync(config, 'utf8') + 'store: { historyHours: 0.5 }\n');
    // A model dropped in the folder, as at a plant without deployments: it produces the scores.
    mkdirSync(join(dir, `models-${AGENT}`));
    writeFileSync(
      join(dir, `models-${AGENT}`, 'pump1-pca-1.0.0.vmodel'),
      await pcaPackage({ name: 'pump1-pca', version: '1.0.0', tags: PUMP1_TAGS, samplePeriodMs: 100, warn: 1e9, manifest: { missingData: LENIENT_MISSING_DATA, normalization: { mean: [100, 5, 50, 1], std: [10, 1, 5, 0.5] } } }),
    );
    writeFileSync(offsetFile(), '+0\n');
    agent = spawnVigil(['agent', '--config', config], {
      LD_PRELOAD: LIBFAKETIME,
      FAKETIME_TIMESTAMP_FILE: offsetFile(),
      FAKETIME_CACHE_DURATION: '1',
      // Timers and performance.now() keep running on the real monotonic clock, as on a gateway whose NTP steps the wall clock.
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    });
    agentUrl = String((await agent.waitForLog('agent running', 60_000)).http);
  }, 120_000);

  afterAll(async () => {
    agent?.child.kill('SIGTERM');
    await agent?.exited;
    await hub?.stop(true);
    await plant?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const skew = async () => {
    const r = (await api(hub.url, `/api/agents/${AGENT}`, { token: admin })).json;
    const a = r.agent ?? r;
    return { skewMs: a.skewMs as number | null, skewed: a.skewed as boolean };
  };
  const expiredSamples = async () => Number(/^vigil_history_expired_samples_total (\d+)/m.exec(await (await fetch(`${agentUrl}/metrics`)).text())?.[1] ?? NaN);

  it('keeps seq order and exactly-once delivery, expires no history early, and the hub flags the skew', async () => {
    await eventually(async () => ((await hubScores(hub, admin, AGENT)).total >= 5 ? true : undefined), 'scores on the hub', 60_000);
    expect(Math.abs((await skew()).skewMs ?? Infinity)).toBeLessThan(5000);

    writeFileSync(offsetFile(), '+3600\n');
    const ahead = await eventually(async () => {
      const s = await skew();
      return s.skewMs !== null && s.skewMs > 3_590_000 ? s : undefined;
    }, 'the hub to see the clock an hour ahead', 30_000);
    expect(ahead).toMatchObject({ skewed: true });
    expect(ahead.skewMs).toBeLessThan(3_610_000);
    // History retention runs every minute: one pass with the clock ahead must delete nothing.
    const stepped = Date.now();
    const before = (await hubScores(hub, admin, AGENT)).total;
    await new Promise((r) => setTimeout(r, Math.max(0, 62_000 - (Date.now() - stepped))));
    expect(await expiredSamples()).toBe(0);
    // Scoring went on through the step (sources and the hub link time their liveness on the monotonic clock).
    await eventually(async () => ((await hubScores(hub, admin, AGENT)).total > before + 20 ? true : undefined), 'scores to keep arriving with the clock ahead', 60_000);

    writeFileSync(offsetFile(), '-3600\n');
    const behind = await eventually(async () => {
      const s = await skew();
      return s.skewMs !== null && s.skewMs < -3_590_000 ? s : undefined;
    }, 'the hub to see the clock an hour behind', 30_000);
    expect(behind).toMatchObject({ skewed: true });
    const later = (await hubScores(hub, admin, AGENT)).total;
    await eventually(async () => ((await hubScores(hub, admin, AGENT)).total > later + 5 ? true : undefined), 'scores to keep arriving with the clock behind', 90_000);

    await drained(agentUrl);
    const all = await hubScores(hub, admin, AGENT);
    expectGapFreeOnce(all);
    // The agent's append times jumped both ways; the order is the seq's, not the clock's.
    const at = all.records.map((r) => r.at);
    expect(Math.max(...at) - Math.min(...at)).toBeGreaterThan(3_500_000);
  }, 240_000);
});
