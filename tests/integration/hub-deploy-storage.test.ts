import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Deployer } from '../../cloud-sync/deployments/deployer.js';
import type { AgentChannel, AgentChannels } from '../../cloud-sync/gateway/agent-channels.js';
import { HubRegistry } from '../../cloud-sync/registry/hub-registry.js';
import { loadOrCreateSigningKey } from '../../cloud-sync/registry/signing-key.js';
import type { HubStorage } from '../../cloud-sync/storage/hub-storage.js';
import { openLmdbHubStorage } from '../../cloud-sync/storage/lmdb-storage.js';
import { silentLogger } from '../../shared/logger.js';
import { checkPackageSignature } from '../../shared/package-signature.js';
import type { Deploy, DeploymentStatus, HubMessage, ModelStatus } from '../../shared/sync-protocol.js';
import { pcaPackage, PUMP1_TAGS } from '../helpers/pca-package.js';

/**
 * The Deployer on real LMDB storage across a hub restart (storage closed and
 * reopened, a new Deployer). Agents are represented by what the gateway would
 * hand the deployer: a channel per connected agent; the websocket path is
 * covered end to end with the hub process.
 */

const T0 = 1_700_000_000_000;
let dataDir: string;
let storage: HubStorage;
let clock: number;

class Channels implements AgentChannels {
  readonly online = new Set<string>();
  readonly sent: Array<{ agent: string; message: HubMessage }> = [];
  get(agent: string): AgentChannel | undefined {
    return this.online.has(agent) ? { agent, send: (message) => (this.sent.push({ agent, message }), true) } : undefined;
  }
  connected() {
    return [...this.online];
  }
  deploys(agent: string): Deploy[] {
    return this.sent.filter((s) => s.agent === agent && s.message.type === 'deploy').map((s) => s.message as Deploy);
  }
}

const status = (s: DeploymentStatus, version: string, deployment: string | null, reason?: string): ModelStatus => ({
  type: 'model_status',
  deployment,
  model: 'pump-pca',
  version,
  status: s,
  at: clock,
  ...(reason ? { reason } : {}),
});

beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'vigil-hub-deploy-'));
  storage = await openLmdbHubStorage(join(dataDir, 'store'));
  clock = T0;
});

afterEach(async () => {
  await storage.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('Deployer on LMDB storage', () => {
  it('survives a hub restart mid-shadow, delivers to a late agent, and rolls back on a failure', async () => {
    const key = loadOrCreateSigningKey(dataDir);
    const registry = new HubRegistry({ storage, privateKey: key.privateKey, log: silentLogger(), now: () => clock });
    for (const version of ['1.0.0', '1.1.0']) await registry.upload(await pcaPackage({ name: 'pump-pca', version, tags: PUMP1_TAGS, samplePeriodMs: 1000 }), 'alice');
    for (const id of ['gw1', 'gw2']) {
      await storage.createAgent({ id, labels: { line: '1' }, tokenHash: 'h', tokenSalt: 's', createdAt: T0 });
      await storage.updateAgentPresence(id, { models: [{ name: 'pump-pca', active: '1.0.0', shadow: null, previous: null, state: 'scoring' }] });
    }

    let channels = new Channels();
    channels.online.add('gw1');
    let deployer = new Deployer({ storage, channels, log: silentLogger(), now: () => clock, shadowCheckMs: 3_600_000 });
    const d = await deployer.deploy({ model: 'pump-pca', version: '1.1.0', labels: { line: '1' }, shadowMs: 30_000 }, 'alice');
    const [notice] = channels.deploys('gw1');
    const served = await storage.getPackage('pump-pca', '1.1.0');
    expect(checkPackageSignature(served!, notice!.sha256, notice!.signature, key.publicKeyPem)).toEqual({ ok: true });
    await deployer.onModelStatus('gw1', status('downloading', '1.1.0', d.id));
    await deployer.onModelStatus('gw1', status('shadow', '1.1.0', d.id));

    // The hub stops and starts again.
    await deployer.stop();
    await storage.close();
    storage = await openLmdbHubStorage(join(dataDir, 'store'));
    channels = new Channels();
    channels.online.add('gw1');
    deployer = new Deployer({ storage, channels, log: silentLogger(), now: () => clock, shadowCheckMs: 3_600_000 });
    deployer.start();
    try {
      clock = T0 + 30_000;
      await deployer.activateDueShadows();
      expect(channels.deploys('gw1')).toMatchObject([{ deployment: d.id, version: '1.1.0', mode: 'activate', rollback: false }]);
      await deployer.onModelStatus('gw1', status('active', '1.1.0', d.id));

      // gw2 was offline throughout; it gets the shadow deploy when it is ready.
      channels.online.add('gw2');
      await deployer.onAgentReady('gw2');
      expect(channels.deploys('gw2')).toMatchObject([{ deployment: d.id, mode: 'shadow' }]);
      await deployer.onModelStatus('gw2', status('shadow', '1.1.0', d.id));
      clock += 30_000;
      await deployer.activateDueShadows();
      await deployer.onModelStatus('gw2', status('active', '1.1.0', d.id));
      expect(await storage.getDeployment(d.id)).toMatchObject({ state: 'completed' });

      // A run-time fault reported without a deployment id still rolls everything back.
      clock += 1_000;
      await deployer.onModelStatus('gw2', status('failed', '1.1.0', null, 'output contains NaN'));
      const [rollback, original] = await storage.listDeployments({ model: 'pump-pca' });
      expect(original).toMatchObject({ id: d.id, state: 'rolled_back' });
      expect(rollback).toMatchObject({ rollbackOf: d.id, version: '1.0.0', state: 'rolling_out', reason: 'automatic: gw2 reported failure: output contains NaN' });
      for (const agent of ['gw1', 'gw2']) expect(channels.deploys(agent).at(-1)).toMatchObject({ deployment: rollback!.id, version: '1.0.0', mode: 'activate', rollback: true });
      expect((await storage.targetsOfAgent('gw1')).map((t) => t.deployment)).toEqual([rollback!.id, d.id]);

      for (const agent of ['gw1', 'gw2']) await deployer.onModelStatus(agent, status('active', '1.0.0', rollback!.id));
      expect(await storage.getDeployment(rollback!.id)).toMatchObject({ state: 'completed' });
    } finally {
      await deployer.stop();
    }
  });
});
