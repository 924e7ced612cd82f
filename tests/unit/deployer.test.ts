import { beforeEach, describe, expect, it } from 'vitest';
import { deploymentRoutes } from '../../cloud-sync/api/deployment-routes.js';
import type { ApiRequest, ApiRoute } from '../../cloud-sync/api/api-route.js';
import { Deployer, type DeploymentView } from '../../cloud-sync/deployments/deployer.js';
import type { AgentChannel, AgentChannels } from '../../cloud-sync/gateway/agent-channels.js';
import type { AgentRecord, DeploymentRecord, DeploymentTarget, HubStorage, ModelVersionRecord } from '../../cloud-sync/storage/hub-storage.js';
import { InProcessFleet } from '../../cloud-sync/storage/in-process-fleet.js';
import { VigilError } from '../../shared/errors.js';
import { silentLogger } from '../../shared/logger.js';
import type { Deploy, DeploymentStatus, HubMessage, ModelStatus, ModelVersions } from '../../shared/sync-protocol.js';

/**
 * The deployment logic against an in-memory stand-in for the storage's
 * deployment, agent and registry methods (the rest is not used here), and
 * agent channels that record what they were sent. The real LMDB storage is
 * exercised in tests/integration/hub-registry.test.ts and hub-deploy*.test.ts.
 */

const MODEL = 'pump-pca';
const T0 = 1_700_000_000_000;

class MemoryStorage {
  readonly kind = 'lmdb' as const;
  agents = new Map<string, AgentRecord>();
  versions = new Map<string, ModelVersionRecord>();
  deployments = new Map<string, DeploymentRecord>();
  targets = new Map<string, DeploymentTarget>();

  async listAgents() {
    return [...this.agents.values()];
  }
  async getModelVersion(name: string, version: string) {
    return this.versions.get(`${name}@${version}`);
  }
  async createDeployment(d: DeploymentRecord, targets: readonly DeploymentTarget[]) {
    if (this.deployments.has(d.id)) throw new Error(`duplicate ${d.id}`);
    this.deployments.set(d.id, { ...d });
    for (const t of targets) this.targets.set(`${d.id}/${t.agent}`, { ...t });
  }
  async getDeployment(id: string) {
    const d = this.deployments.get(id);
    return d && { ...d };
  }
  async listDeployments(filter: { model?: string; agent?: string; limit?: number } = {}) {
    return [...this.deployments.values()]
      .filter((d) => filter.model === undefined || d.model === filter.model)
      .filter((d) => filter.agent === undefined || this.targets.has(`${d.id}/${filter.agent}`))
      .sort(newestFirst)
      .slice(0, filter.limit ?? Infinity)
      .map((d) => ({ ...d }));
  }
  async updateDeployment(id: string, patch: Partial<DeploymentRecord>) {
    const d = this.deployments.get(id);
    if (!d) throw new VigilError('VIGIL_API_NOT_FOUND', `no deployment ${id}`);
    this.deployments.set(id, { ...d, ...patch });
  }
  async listTargets(deployment: string) {
    return [...this.targets.values()].filter((t) => t.deployment === deployment).sort((a, b) => a.agent.localeCompare(b.agent)).map((t) => ({ ...t }));
  }
  async targetsOfAgent(agent: string) {
    const mine = [...this.targets.values()].filter((t) => t.agent === agent);
    return mine.sort((a, b) => newestFirst(this.deployments.get(a.deployment)!, this.deployments.get(b.deployment)!)).map((t) => ({ ...t }));
  }
  /** One process, as on LMDB: the deployer's own queue already serialises, the lock only has to run the work. */
  readonly locks = new InProcessFleet();
  withLock<T>(name: string, work: () => Promise<T>): Promise<T> {
    return this.locks.withLock(name, work);
  }
  async updateTarget(deployment: string, agent: string, patch: Partial<DeploymentTarget>) {
    const t = this.targets.get(`${deployment}/${agent}`);
    if (!t) throw new VigilError('VIGIL_API_NOT_FOUND', `${agent} is not a target of ${deployment}`);
    this.targets.set(`${deployment}/${agent}`, { ...t, ...patch });
  }
}

function newestFirst(a: DeploymentRecord, b: DeploymentRecord): number {
  return b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/** Only the methods the deployer and its routes call exist; anything else fails the test loudly. */
function asHubStorage(memory: MemoryStorage): HubStorage {
  return new Proxy(memory, {
    get(target, prop, receiver) {
      if (prop in target) return Reflect.get(target, prop, receiver);
      return () => {
        throw new Error(`storage.${String(prop)} is not expected in these tests`);
      };
    },
  }) as unknown as HubStorage;
}

class RecordingChannels implements AgentChannels {
  readonly online = new Set<string>();
  readonly sent = new Map<string, HubMessage[]>();

  get(agent: string): AgentChannel | undefined {
    if (!this.online.has(agent)) return undefined;
    return {
      agent,
      send: (message) => {
        this.sent.set(agent, [...(this.sent.get(agent) ?? []), message]);
        return true;
      },
    };
  }
  connected(): string[] {
    return [...this.online];
  }
  deploysTo(agent: string): Deploy[] {
    return (this.sent.get(agent) ?? []).filter((m): m is Deploy => m.type === 'deploy');
  }
}

function agent(id: string, active: string | null, labels: Record<string, string> = {}): AgentRecord {
  const models: ModelVersions[] = active === null ? [] : [{ name: MODEL, active, shadow: null, previous: null, state: 'scoring' }];
  return { id, labels, tokenHash: 'x', tokenSalt: 'y', createdAt: T0, revokedAt: null, lastSeenAt: T0, connectedTo: 'hub', software: '0.1.0', epoch: 'e', models, health: null, skewMs: 0 };
}

function version(v: string): ModelVersionRecord {
  return { name: MODEL, version: v, description: '', sha256: v.replace(/\D/g, '').padEnd(64, 'a'), size: 1000 + v.length, signature: `sig-${v}`, manifest: {}, uploadedAt: T0, uploadedBy: 'test' };
}

function status(s: DeploymentStatus, v: string, deployment: string | null, reason?: string): ModelStatus {
  return { type: 'model_status', deployment, model: MODEL, version: v, status: s, at: T0, ...(reason ? { reason } : {}) };
}

let memory: MemoryStorage;
let storage: HubStorage;
let channels: RecordingChannels;
let clock: number;
let deployer: Deployer;

function newDeployer(): Deployer {
  // The timer would check with the test's clock on its own; the tests drive activateDueShadows themselves.
  return new Deployer({ storage, channels, log: silentLogger(), now: () => clock, shadowCheckMs: 3_600_000 });
}

beforeEach(() => {
  memory = new MemoryStorage();
  storage = asHubStorage(memory);
  channels = new RecordingChannels();
  clock = T0;
  for (const v of ['1.0.0', '1.1.0', '2.0.0+build.7']) memory.versions.set(`${MODEL}@${v}`, version(v));
  memory.agents.set('gw3', agent('gw3', null, { line: '1' }));
  memory.agents.set('gw1', agent('gw1', '1.0.0', { line: '1', site: 'north' }));
  memory.agents.set('gw2', agent('gw2', '1.0.0', { line: '2', site: 'north' }));
  for (const id of ['gw1', 'gw2', 'gw3']) channels.online.add(id);
  deployer = newDeployer();
});

const targetsOf = (id: string) => memory.listTargets(id);
const stateOf = (id: string) => memory.deployments.get(id)!;

describe('Deployer: choosing agents', () => {
  it('records each target with its previous version and sends the deploy notice to connected agents', async () => {
    const d = await deployer.deploy({ model: MODEL, version: '1.1.0', labels: { site: 'north' } }, 'alice');
    expect(d).toMatchObject({ model: MODEL, version: '1.1.0', mode: 'activate', shadowMs: null, canary: null, rollbackOf: null, state: 'rolling_out', createdBy: 'alice' });
    expect(await targetsOf(d.id)).toEqual([
      { deployment: d.id, agent: 'gw1', wave: 0, status: 'pending', reason: null, previousVersion: '1.0.0', shadowUntil: null, updatedAt: T0 },
      { deployment: d.id, agent: 'gw2', wave: 0, status: 'pending', reason: null, previousVersion: '1.0.0', shadowUntil: null, updatedAt: T0 },
    ]);
    const v = version('1.1.0');
    expect(channels.deploysTo('gw1')).toEqual([
      { type: 'deploy', deployment: d.id, model: MODEL, version: '1.1.0', mode: 'activate', rollback: false, sha256: v.sha256, signature: v.signature, url: '/api/models/pump-pca/versions/1.1.0/package', size: v.size },
    ]);
    expect(channels.deploysTo('gw2')).toHaveLength(1);
    expect(channels.deploysTo('gw3')).toHaveLength(0);
  });

  it('URL-encodes the package address (a version may hold "+")', async () => {
    const d = await deployer.deploy({ model: MODEL, version: '2.0.0+build.7', agents: ['gw1'] }, 'alice');
    expect(channels.deploysTo('gw1')[0]).toMatchObject({ deployment: d.id, url: '/api/models/pump-pca/versions/2.0.0%2Bbuild.7/package' });
  });

  it('matches all labels, and ids together with labels', async () => {
    const byLabels = await deployer.deploy({ model: MODEL, version: '1.1.0', labels: { line: '1', site: 'north' } }, 'alice');
    expect((await targetsOf(byLabels.id)).map((t) => t.agent)).toEqual(['gw1']);
    await expect(deployer.deploy({ model: MODEL, version: '1.1.0', agents: ['gw1', 'gw2'], labels: { line: '1' } }, 'alice')).rejects.toMatchObject({
      code: 'VIGIL_API_BAD_REQUEST',
      message: expect.stringContaining('gw2 does not carry the labels line=1'),
    });
  });

  it('refuses unknown agents by name, an empty selection, a bad request and a version not in the registry', async () => {
    await expect(deployer.deploy({ model: MODEL, version: '1.1.0', agents: ['gw1', 'gw9', 'gw8'] }, 'a')).rejects.toMatchObject({ code: 'VIGIL_API_BAD_REQUEST', message: expect.stringContaining('unknown agents: gw9, gw8') });
    await expect(deployer.deploy({ model: MODEL, version: '1.1.0', labels: { line: '7' } }, 'a')).rejects.toMatchObject({ code: 'VIGIL_API_BAD_REQUEST', message: expect.stringContaining('no agent carries the labels line=7') });
    await expect(deployer.deploy({ model: MODEL, version: '1.1.0' }, 'a')).rejects.toMatchObject({ code: 'VIGIL_API_BAD_REQUEST', message: expect.stringContaining('agents:') });
    await expect(deployer.deploy({ model: MODEL, version: '1.1.0', agents: ['gw1'], canary: 0 }, 'a')).rejects.toMatchObject({ code: 'VIGIL_API_BAD_REQUEST', message: expect.stringContaining('canary') });
    await expect(deployer.deploy({ model: MODEL, version: '1.1.0', agents: ['gw1'], mode: 'shadow' }, 'a')).rejects.toMatchObject({ code: 'VIGIL_API_BAD_REQUEST', message: expect.stringContaining('shadowMs') });
    await expect(deployer.deploy({ model: MODEL, version: '9.9.9', agents: ['gw1'] }, 'a')).rejects.toMatchObject({ code: 'VIGIL_API_NOT_FOUND' });
    expect(memory.deployments.size).toBe(0);
  });
});

describe('Deployer: staged rollout', () => {
  it('sends the rest only once every canary is active, and completes when all are', async () => {
    const d = await deployer.deploy({ model: MODEL, version: '1.1.0', agents: ['gw3', 'gw2', 'gw1'], canary: 1 }, 'alice');
    expect((await targetsOf(d.id)).map((t) => [t.agent, t.wave])).toEqual([['gw1', 0], ['gw2', 1], ['gw3', 1]]);
    expect(channels.deploysTo('gw1')).toHaveLength(1);
    expect(channels.deploysTo('gw2')).toHaveLength(0);

    await deployer.onModelStatus('gw1', status('downloading', '1.1.0', d.id));
    expect(channels.deploysTo('gw2')).toHaveLength(0);
    await deployer.onModelStatus('gw1', status('active', '1.1.0', d.id));
    expect(channels.deploysTo('gw2')).toMatchObject([{ deployment: d.id, version: '1.1.0', mode: 'activate' }]);
    expect(channels.deploysTo('gw3')).toHaveLength(1);
    expect(channels.deploysTo('gw1')).toHaveLength(1);

    await deployer.onModelStatus('gw2', status('active', '1.1.0', d.id));
    expect(stateOf(d.id).state).toBe('rolling_out');
    await deployer.onModelStatus('gw3', status('active', '1.1.0', d.id));
    expect(stateOf(d.id)).toMatchObject({ state: 'completed', reason: null });
    expect((await targetsOf(d.id)).map((t) => t.status)).toEqual(['active', 'active', 'active']);
  });

  it('opens the next wave exactly once when many canaries answer at the same moment', async () => {
    for (let i = 10; i < 40; i++) {
      memory.agents.set(`gw${i}`, agent(`gw${i}`, '1.0.0'));
      channels.online.add(`gw${i}`);
    }
    const ids = [...memory.agents.keys()];
    const d = await deployer.deploy({ model: MODEL, version: '1.1.0', agents: ids, canary: 20 }, 'alice');
    const canaries = (await targetsOf(d.id)).filter((t) => t.wave === 0).map((t) => t.agent);
    expect(canaries).toHaveLength(20);
    await Promise.all(canaries.map((id) => deployer.onModelStatus(id, status('active', '1.1.0', d.id))));
    for (const id of ids) expect(channels.deploysTo(id), id).toHaveLength(1);
  });

  it('stops at a canary that refuses: the rest is never sent and the deployment fails', async () => {
    const d = await deployer.deploy({ model: MODEL, version: '1.1.0', agents: ['gw1', 'gw2', 'gw3'], canary: 1 }, 'alice');
    await deployer.onModelStatus('gw1', status('refused', '1.1.0', d.id, 'signature does not match'));
    expect(stateOf(d.id)).toMatchObject({ state: 'failed', reason: expect.stringContaining('gw1 refused: signature does not match') });
    expect(stateOf(d.id).reason).toContain('2 other agents were not deployed to');
    expect(channels.deploysTo('gw2')).toHaveLength(0);
    // A reconnect does not send a failed rollout either.
    await deployer.onAgentReady('gw2');
    expect(channels.deploysTo('gw2')).toHaveLength(0);
    // Nobody took the version and the rest was never sent it: there is nothing to roll back.
    await expect(deployer.rollback(d.id, 'bob')).rejects.toMatchObject({ code: 'VIGIL_API_CONFLICT', message: expect.stringContaining('nothing to roll back') });
  });
});

describe('Deployer: refusals', () => {
  it('keeps rolling out to the others when one refuses, and names the refusal on completion', async () => {
    const d = await deployer.deploy({ model: MODEL, version: '1.1.0', agents: ['gw1', 'gw2'] }, 'alice');
    await deployer.onModelStatus('gw1', status('refused', '1.1.0', d.id, 'tag pump1.flow is not configured'));
    expect(stateOf(d.id).state).toBe('rolling_out');
    expect((await targetsOf(d.id))[0]).toMatchObject({ status: 'refused', reason: 'tag pump1.flow is not configured', updatedAt: T0 });
    await deployer.onModelStatus('gw2', status('active', '1.1.0', d.id));
    expect(stateOf(d.id)).toMatchObject({ state: 'completed', reason: expect.stringContaining('active on 1 of 2 agents; gw1 refused: tag pump1.flow is not configured') });
  });

  it('fails when every agent refuses', async () => {
    const d = await deployer.deploy({ model: MODEL, version: '1.1.0', agents: ['gw1', 'gw2'] }, 'alice');
    await deployer.onModelStatus('gw1', status('refused', '1.1.0', d.id, 'unsigned'));
    await deployer.onModelStatus('gw2', status('refused', '1.1.0', d.id, 'unsigned'));
    expect(stateOf(d.id)).toMatchObject({ state: 'failed', reason: 'no agent took the version: gw1 refused: unsigned; gw2 refused: unsigned' });
  });
});

describe('Deployer: shadow period', () => {
  it('activates exactly when the period ends, measured from the shadow report on the hub clock', async () => {
    const d = await deployer.deploy({ model: MODEL, version: '1.1.0', agents: ['gw1'], shadowMs: 60_000 }, 'alice');
    expect(d).toMatchObject({ mode: 'shadow', shadowMs: 60_000 });
    expect(channels.deploysTo('gw1')).toMatchObject([{ mode: 'shadow', version: '1.1.0' }]);

    clock = T0 + 5_000;
    await deployer.onModelStatus('gw1', status('shadow', '1.1.0', d.id));
    expect((await targetsOf(d.id))[0]).toMatchObject({ status: 'shadow', shadowUntil: T0 + 65_000 });

    clock = T0 + 64_999;
    await deployer.activateDueShadows();
    expect(channels.deploysTo('gw1')).toHaveLength(1);
    // A second shadow report (after a reconnect) does not extend the period.
    await deployer.onModelStatus('gw1', status('shadow', '1.1.0', d.id));
    expect((await targetsOf(d.id))[0]!.shadowUntil).toBe(T0 + 65_000);

    clock = T0 + 65_000;
    await deployer.activateDueShadows();
    expect(channels.deploysTo('gw1')).toMatchObject([{ mode: 'shadow' }, { mode: 'activate', version: '1.1.0', rollback: false, deployment: d.id }]);
    await deployer.activateDueShadows();
    expect(channels.deploysTo('gw1')).toHaveLength(2);

    await deployer.onModelStatus('gw1', status('active', '1.1.0', d.id));
    expect(stateOf(d.id).state).toBe('completed');
  });

  it('still activates after a hub restart, from shadowUntil in storage', async () => {
    const d = await deployer.deploy({ model: MODEL, version: '1.1.0', agents: ['gw1'], shadowMs: 600_000 }, 'alice');
    await deployer.onModelStatus('gw1', status('shadow', '1.1.0', d.id));
    await deployer.stop();

    const restarted = newDeployer();
    restarted.start();
    try {
      clock = T0 + 599_999;
      await restarted.activateDueShadows();
      expect(channels.deploysTo('gw1')).toHaveLength(1);
      clock = T0 + 600_000;
      await restarted.activateDueShadows();
      expect(channels.deploysTo('gw1').map((m) => m.mode)).toEqual(['shadow', 'activate']);
    } finally {
      await restarted.stop();
    }
  });

  it('treats a shadowing canary as not done: the rest waits for activation', async () => {
    const d = await deployer.deploy({ model: MODEL, version: '1.1.0', agents: ['gw1', 'gw2'], shadowMs: 1_000, canary: 1 }, 'alice');
    await deployer.onModelStatus('gw1', status('shadow', '1.1.0', d.id));
    expect(channels.deploysTo('gw2')).toHaveLength(0);
    clock += 1_000;
    await deployer.activateDueShadows();
    await deployer.onModelStatus('gw1', status('active', '1.1.0', d.id));
    expect(channels.deploysTo('gw2')).toMatchObject([{ mode: 'shadow' }]);
  });
});

describe('Deployer: agents that were offline', () => {
  it('sends a pending deployment when the agent is ready, and activates a shadow period that ended meanwhile', async () => {
    channels.online.delete('gw2');
    const d = await deployer.deploy({ model: MODEL, version: '1.1.0', agents: ['gw1', 'gw2'], shadowMs: 10_000 }, 'alice');
    expect(channels.deploysTo('gw2')).toHaveLength(0);

    channels.online.add('gw2');
    await deployer.onAgentReady('gw2');
    expect(channels.deploysTo('gw2')).toMatchObject([{ deployment: d.id, mode: 'shadow' }]);

    await deployer.onModelStatus('gw2', status('shadow', '1.1.0', d.id));
    channels.online.delete('gw2');
    clock += 10_000;
    await deployer.activateDueShadows();
    expect(channels.deploysTo('gw2')).toHaveLength(1);

    channels.online.add('gw2');
    await deployer.onAgentReady('gw2');
    expect(channels.deploysTo('gw2').map((m) => m.mode)).toEqual(['shadow', 'activate']);
    // gw1 is still pending and connected: a ready gw1 gets its notice again (the first may have been lost).
    await deployer.onAgentReady('gw1');
    expect(channels.deploysTo('gw1')).toHaveLength(2);
  });

  it('holds back a second-wave agent that reconnects before the canaries are active', async () => {
    await deployer.deploy({ model: MODEL, version: '1.1.0', agents: ['gw1', 'gw2'], canary: 1 }, 'alice');
    await deployer.onAgentReady('gw2');
    expect(channels.deploysTo('gw2')).toHaveLength(0);
  });

  it('resends only the newest deployment of a model to a reconnecting agent', async () => {
    channels.online.delete('gw1');
    await deployer.deploy({ model: MODEL, version: '1.1.0', agents: ['gw1'] }, 'alice');
    clock += 1;
    const newer = await deployer.deploy({ model: MODEL, version: '2.0.0+build.7', agents: ['gw1'] }, 'alice');
    channels.online.add('gw1');
    await deployer.onAgentReady('gw1');
    expect(channels.deploysTo('gw1')).toMatchObject([{ deployment: newer.id, version: '2.0.0+build.7' }]);
  });
});

describe('Deployer: rollback', () => {
  it('rolls the whole deployment back automatically when an agent reports a run-time failure', async () => {
    const d = await deployer.deploy({ model: MODEL, version: '1.1.0', agents: ['gw1', 'gw2'] }, 'alice');
    await deployer.onModelStatus('gw1', status('active', '1.1.0', d.id));
    await deployer.onModelStatus('gw2', status('active', '1.1.0', d.id));
    expect(stateOf(d.id).state).toBe('completed');

    clock += 1_000;
    await deployer.onModelStatus('gw2', status('failed', '1.1.0', d.id, 'output contains NaN'));
    const rollback = [...memory.deployments.values()].find((x) => x.rollbackOf === d.id)!;
    expect(rollback).toMatchObject({ model: MODEL, version: '1.0.0', mode: 'activate', state: 'rolling_out', createdBy: 'hub', reason: 'automatic: gw2 reported failure: output contains NaN' });
    expect(stateOf(d.id)).toMatchObject({ state: 'rolled_back', reason: `rolled back by ${rollback.id}: automatic: gw2 reported failure: output contains NaN` });
    for (const id of ['gw1', 'gw2']) {
      expect(channels.deploysTo(id).at(-1)).toMatchObject({ deployment: rollback.id, version: '1.0.0', mode: 'activate', rollback: true, url: '/api/models/pump-pca/versions/1.0.0/package' });
    }
    expect((await targetsOf(rollback.id)).map((t) => [t.agent, t.status, t.previousVersion])).toEqual([
      ['gw1', 'pending', '1.1.0'],
      ['gw2', 'pending', '1.1.0'],
    ]);

    await deployer.onModelStatus('gw1', status('active', '1.0.0', rollback.id));
    await deployer.onModelStatus('gw2', status('active', '1.0.0', rollback.id));
    expect(stateOf(rollback.id).state).toBe('completed');
    // A failure reported again for the undone deployment does not roll back twice.
    await deployer.onModelStatus('gw1', status('failed', '1.1.0', d.id, 'NaN'));
    expect([...memory.deployments.values()].filter((x) => x.rollbackOf !== null)).toHaveLength(1);
  });

  it('marks agents without a previous version as having nothing to return to, and says so', async () => {
    const d = await deployer.deploy({ model: MODEL, version: '1.1.0', agents: ['gw1', 'gw3'] }, 'alice');
    await deployer.onModelStatus('gw1', status('active', '1.1.0', d.id));
    await deployer.onModelStatus('gw3', status('active', '1.1.0', d.id));

    const rollback = await deployer.rollback(d.id, 'bob', 'scores look wrong');
    expect(rollback).toMatchObject({ rollbackOf: d.id, version: '1.0.0', createdBy: 'bob', state: 'rolling_out' });
    expect(rollback.reason).toBe('scores look wrong; gw3: no previous version to return to');
    expect((await targetsOf(rollback.id)).map((t) => [t.agent, t.status, t.reason])).toEqual([
      ['gw1', 'pending', null],
      ['gw3', 'rolled_back', 'no previous version to return to'],
    ]);
    expect(channels.deploysTo('gw3')).toHaveLength(1);
    expect(channels.deploysTo('gw1').at(-1)).toMatchObject({ version: '1.0.0', rollback: true });

    await deployer.onModelStatus('gw1', status('active', '1.0.0', rollback.id));
    expect(stateOf(rollback.id).state).toBe('completed');
    const view = await deployer.view(rollback.id);
    expect(view?.targets.map((t) => [t.agent, t.version])).toEqual([['gw1', '1.0.0'], ['gw3', null]]);

    await expect(deployer.rollback(d.id, 'bob')).rejects.toMatchObject({ code: 'VIGIL_API_CONFLICT' });
    await expect(deployer.rollback('dep-nope', 'bob')).rejects.toMatchObject({ code: 'VIGIL_API_NOT_FOUND' });
  });

  it('applies a status without deployment id to the agent\'s most recent deployment of that version', async () => {
    const first = await deployer.deploy({ model: MODEL, version: '1.1.0', agents: ['gw1'] }, 'alice');
    await deployer.onModelStatus('gw1', status('active', '1.1.0', first.id));
    memory.agents.set('gw1', agent('gw1', '1.1.0'));
    clock += 1;
    const second = await deployer.deploy({ model: MODEL, version: '2.0.0+build.7', agents: ['gw1'] }, 'alice');

    // The agent reports on 1.1.0 by itself: the first deployment's target, not the newer one.
    await deployer.onModelStatus('gw1', status('rolled_back', '1.1.0', null, 'replaced'));
    expect((await targetsOf(first.id))[0]).toMatchObject({ status: 'rolled_back', reason: 'replaced' });
    expect((await targetsOf(second.id))[0]!.status).toBe('pending');

    // A fault of 2.0.0 without deployment id still rolls the second deployment back.
    await deployer.onModelStatus('gw1', status('active', '2.0.0+build.7', null));
    await deployer.onModelStatus('gw1', status('failed', '2.0.0+build.7', null, 'wrong output shape'));
    expect(stateOf(second.id)).toMatchObject({ state: 'rolled_back', reason: expect.stringContaining('automatic: gw1 reported failure: wrong output shape') });
    expect(channels.deploysTo('gw1').at(-1)).toMatchObject({ version: '1.1.0', rollback: true });
  });

  it('ignores a status that matches no deployment', async () => {
    await deployer.onModelStatus('gw1', status('active', '1.1.0', null));
    await deployer.onModelStatus('gw1', status('active', '1.1.0', 'dep-unknown'));
    expect(memory.deployments.size).toBe(0);
  });
});

describe('deployment routes', () => {
  const caller = { kind: 'token' as const, id: 't1', name: 'alice', role: 'admin' as const };
  function request(method: string, path: string, params: Record<string, string>, body?: unknown, query = ''): ApiRequest {
    const raw = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
    return {
      method,
      path,
      params,
      query: new URLSearchParams(query),
      headers: {},
      caller,
      body: async () => raw,
      json: async () => JSON.parse(raw.toString()) as unknown,
    };
  }
  const route = (routes: ApiRoute[], method: string, path: string) => routes.find((r) => r.method === method && r.path === path)!;

  it('validates, deploys, lists with counts, shows and rolls back', async () => {
    const routes = deploymentRoutes({ storage, deployer });
    const post = route(routes, 'POST', '/api/deployments');
    expect(post.access).toBe('admin');
    await expect(post.handle(request('POST', '/api/deployments', {}, { model: MODEL, version: '1.1.0', agents: ['gw1'], shadow: '10m' }))).rejects.toMatchObject({
      code: 'VIGIL_API_BAD_REQUEST',
      message: expect.stringContaining('unknown field shadow'),
    });
    await expect(post.handle(request('POST', '/api/deployments', {}, { model: MODEL, version: '1.1.0', agents: 'gw1' }))).rejects.toMatchObject({
      code: 'VIGIL_API_BAD_REQUEST',
      message: expect.stringMatching(/^agents: /),
    });

    const created = await post.handle(request('POST', '/api/deployments', {}, { model: MODEL, version: '1.1.0', agents: ['gw1', 'gw2'], shadowMs: 600_000 }));
    expect(created.status).toBe(201);
    const view = created.json as DeploymentView;
    expect(view).toMatchObject({ mode: 'shadow', shadowMs: 600_000, createdBy: 'alice' });
    expect(view.targets.map((t) => [t.agent, t.status, t.version])).toEqual([['gw1', 'pending', '1.1.0'], ['gw2', 'pending', '1.1.0']]);

    await deployer.onModelStatus('gw1', status('shadow', '1.1.0', view.id));
    const list = await route(routes, 'GET', '/api/deployments').handle(request('GET', '/api/deployments', {}, undefined, `model=${MODEL}&agent=gw1`));
    expect(list.json).toMatchObject({ deployments: [{ id: view.id, agents: 2, counts: { pending: 1, shadow: 1 } }] });
    await expect(route(routes, 'GET', '/api/deployments').handle(request('GET', '/api/deployments', {}, undefined, 'limit=0'))).rejects.toMatchObject({ code: 'VIGIL_API_BAD_REQUEST', message: expect.stringContaining('limit') });

    const one = await route(routes, 'GET', '/api/deployments/:id').handle(request('GET', `/api/deployments/${view.id}`, { id: view.id }));
    expect((one.json as DeploymentView).targets[0]).toMatchObject({ agent: 'gw1', status: 'shadow', shadowUntil: T0 + 600_000 });
    await expect(route(routes, 'GET', '/api/deployments/:id').handle(request('GET', '/api/deployments/x', { id: 'x' }))).rejects.toMatchObject({ code: 'VIGIL_API_NOT_FOUND' });

    const rolled = await route(routes, 'POST', '/api/deployments/:id/rollback').handle(request('POST', `/api/deployments/${view.id}/rollback`, { id: view.id }));
    expect(rolled.status).toBe(201);
    expect(rolled.json).toMatchObject({ rollbackOf: view.id, reason: 'requested by alice', targets: [{ agent: 'gw1', version: '1.0.0' }, { agent: 'gw2', version: '1.0.0' }] });
  });
});
