import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/logger.js';
import { generateSigningKeyPair, sha256Hex, signPackage } from '../../shared/package-signature.js';
import type { Deploy, ModelStatus } from '../../shared/sync-protocol.js';
import { deployPackage } from '../../agent/models/deploy-package.js';
import { ModelRegistry, type OfferOptions } from '../../agent/models/model-registry.js';
import { statusForOutcome, statusesForEvent } from '../../agent/sync/deploy-status.js';
import type { FetchedPackage } from '../../agent/sync/fetch-package.js';
import { HubDeployments } from '../../agent/sync/hub-deployments.js';
import { StatusQueue } from '../../agent/sync/status-queue.js';
import { pcaPackage } from '../helpers/pca-package.js';

const TAGS = ['p.temp', 'p.flow', 'p.pressure', 'p.current'];
const key = generateSigningKeyPair();

/**
 * HubDeployments with the real registry and deployPackage; only the ONNX
 * loader is left out (the scoring worker is tested elsewhere), and the
 * download hands out bytes from a map instead of the network.
 */
async function setup(options: { publicKey?: () => string; download?: (d: Deploy) => Promise<FetchedPackage> } = {}) {
  const registry = new ModelRegistry();
  const loader = { load: async () => undefined, unload: async () => undefined };
  const served = new Map<string, Buffer>();
  const reports: ModelStatus[] = [];
  const saved = new Map<string, unknown>();
  const state = { get: <T>(k: string) => saved.get(k) as T | undefined, put: async (k: string, v: unknown) => void saved.set(k, structuredClone(v)) };
  const scoring = {
    registry,
    deploy: (bytes: Uint8Array, origin: string, o: OfferOptions) => deployPackage(bytes, origin, { registry, loader, configuredTags: TAGS, log: silentLogger() }, o),
    stopShadow: async (model: string, reason: string) => void registry.stopShadow(model, reason),
  };
  const make = () =>
    new HubDeployments({
      scoring,
      state,
      log: silentLogger(),
      publicKey: options.publicKey ?? (() => key.publicKeyPem),
      download: options.download ?? (async (d) => ({ ok: true, bytes: served.get(d.url)! })),
      report: (s) => reports.push(s),
      retryDelaysMs: [1, 1],
    });
  const deployments = make();
  const notice = async (deployment: string, version: string, mode: 'shadow' | 'activate', o: { rollback?: boolean; packageVersion?: string } = {}): Promise<Deploy> => {
    const bytes = await pcaPackage({ name: 'pump-pca', version: o.packageVersion ?? version, tags: TAGS, samplePeriodMs: 1000 });
    const url = `/api/models/pump-pca/versions/${version}/package?d=${deployment}`;
    served.set(url, bytes);
    return { type: 'deploy', deployment, model: 'pump-pca', version, mode, rollback: o.rollback ?? false, sha256: sha256Hex(bytes), signature: signPackage(bytes, key.privateKeyPem), url, size: bytes.length };
  };
  const apply = async (hub: HubDeployments, d: Deploy) => {
    hub.handle(d);
    await hub.idle();
  };
  const statuses = (deployment: string) => reports.filter((r) => r.deployment === deployment).map((r) => (r.reason ? `${r.status}: ${r.reason}` : r.status));
  return { registry, deployments, make, notice, apply, statuses, reports };
}

describe('HubDeployments', () => {
  it('a rollback of a shadow deployment stops the candidate and reports it rolled_back', async () => {
    const { registry, deployments, notice, apply, statuses } = await setup();
    await apply(deployments, await notice('d1', '1.0.0', 'activate'));
    await apply(deployments, await notice('d2', '1.1.0', 'shadow'));
    expect(registry.snapshot()[0]).toMatchObject({ active: '1.0.0', shadow: '1.1.0' });
    expect(statuses('d2')).toEqual(['downloading', 'shadow']);

    // The hub rolls d2 back: each agent returns to its previous version, here the one still active.
    await apply(deployments, await notice('r2', '1.0.0', 'activate', { rollback: true }));
    expect(registry.snapshot()[0]).toMatchObject({ active: '1.0.0', shadow: null });
    expect(statuses('r2')).toEqual(['downloading', 'active']);
    expect(statuses('d2')).toEqual(['downloading', 'shadow', 'rolled_back: rolled back by the hub to pump-pca@1.0.0']);
  });

  it('reports a run-time fault of a deployed version as failed, and a hub rollback as rolled_back / active', async () => {
    const { registry, deployments, notice, apply, statuses } = await setup();
    await apply(deployments, await notice('d1', '1.0.0', 'activate'));
    await apply(deployments, await notice('d2', '1.1.0', 'activate'));
    expect(statuses('d1')).toEqual(['downloading', 'active']);
    // Pending counts as active: it takes over at the next window boundary.
    expect(statuses('d2')).toEqual(['downloading', 'active']);
    registry.atWindowBoundary('pump-pca');
    expect(statuses('d2')).toEqual(['downloading', 'active']);

    // The hub's rollback: the previous version comes back at the boundary.
    await apply(deployments, await notice('r1', '1.0.0', 'activate', { rollback: true }));
    expect(statuses('r1')).toEqual(['downloading', 'active']);
    registry.atWindowBoundary('pump-pca');
    expect(statuses('d2')).toEqual(['downloading', 'active', expect.stringMatching(/^rolled_back: pump-pca@1.0.0 back in service \(was 1.1.0\)/)]);

    // A fault: failed with the reason; the registry's own fallback changes nothing else.
    await apply(deployments, await notice('d3', '1.2.0', 'activate'));
    registry.atWindowBoundary('pump-pca');
    registry.fault('pump-pca', '1.2.0', 'NaN in score output');
    expect(statuses('d3')).toEqual(['downloading', 'active', 'failed: NaN in score output']);
    expect(registry.snapshot()[0]).toMatchObject({ active: '1.0.0' });
    expect(statuses('r1')).toEqual(['downloading', 'active']);
  });

  it('remembers which deployment brought a version across a restart', async () => {
    const { registry, deployments, make, notice, apply, statuses } = await setup();
    await apply(deployments, await notice('d1', '1.0.0', 'activate'));
    await deployments.stop();
    make();
    registry.fault('pump-pca', '1.0.0', 'wrong output shape');
    expect(statuses('d1')).toEqual(['downloading', 'active', 'failed: wrong output shape']);
  });

  it('refuses a package that is not the announced version, and any package when the public key cannot be read', async () => {
    const a = await setup();
    await a.apply(a.deployments, await a.notice('d1', '1.1.0', 'activate', { packageVersion: '1.0.0' }));
    expect(a.statuses('d1')).toEqual(['downloading', 'refused: the package holds pump-pca@1.0.0, but the hub announced pump-pca@1.1.0']);
    expect(a.registry.snapshot()[0]).toMatchObject({ active: null, lastRefusal: { version: '1.1.0' } });

    const b = await setup({
      publicKey: () => {
        throw new Error('ENOENT: /etc/vigil/hub.pub');
      },
    });
    await b.apply(b.deployments, await b.notice('d1', '1.0.0', 'activate'));
    expect(b.statuses('d1')).toEqual(['downloading', expect.stringMatching(/^refused: the hub public key \(hub.publicKeyFile\) cannot be read: .*ENOENT/)]);
  });

  it('tries a failed download again, and refuses after the last try with the reason', async () => {
    let calls = 0;
    const flaky = await setup({ download: async () => (++calls < 3 ? { ok: false, reason: 'ECONNRESET', retry: true } : { ok: false, reason: 'the hub answered HTTP 404', retry: false }) });
    await flaky.apply(flaky.deployments, await flaky.notice('d1', '1.0.0', 'activate'));
    expect(calls).toBe(3);
    expect(flaky.statuses('d1')).toEqual(['downloading', 'refused: the package could not be downloaded: the hub answered HTTP 404']);
  });
});

describe('deployment status mapping', () => {
  it('maps registry outcomes, taking the version’s slot when it was already there', () => {
    expect(statusForOutcome({ result: 'shadow' }, 'shadow')).toEqual({ status: 'shadow' });
    expect(statusForOutcome({ result: 'pending' }, 'pending')).toEqual({ status: 'active' });
    expect(statusForOutcome({ result: 'ignored', reason: '1.0.0 is already active' }, 'active')).toEqual({ status: 'active' });
    expect(statusForOutcome({ result: 'unchanged', reason: 'already the shadow version' }, 'shadow')).toEqual({ status: 'shadow' });
    expect(statusForOutcome({ result: 'ignored', reason: 'failed earlier' }, null)).toEqual({ status: 'refused', reason: 'failed earlier' });
    expect(statusForOutcome({ result: 'refused', reason: 'tags missing' }, null)).toEqual({ status: 'refused', reason: 'tags missing' });
  });

  it('does not overwrite failed with rolled_back after a fault', () => {
    const base = { at: 1, model: 'm', message: 'm rolled back to 1.0.0 after 1.1.0 failed' };
    expect(statusesForEvent({ ...base, kind: 'rolled_back', version: '1.0.0', from: '1.1.0', reason: 'NaN' })).toEqual([{ version: '1.0.0', status: 'active' }]);
    expect(statusesForEvent({ ...base, kind: 'rolled_back', version: '1.0.0', from: '1.1.0' })).toEqual([
      { version: '1.0.0', status: 'active' },
      { version: '1.1.0', status: 'rolled_back', reason: base.message },
    ]);
    expect(statusesForEvent({ ...base, kind: 'staged', version: '1.2.0' })).toEqual([]);
  });
});

describe('StatusQueue', () => {
  const status = (version: string, s: ModelStatus['status'], at: number): ModelStatus => ({ type: 'model_status', deployment: 'd', model: 'm', version, status: s, at });

  it('keeps the latest status per model version, bounded, and never lets an older one replace a newer', () => {
    const queue = new StatusQueue(2);
    queue.add(status('1', 'downloading', 1));
    queue.add(status('1', 'active', 2));
    queue.add(status('1', 'downloading', 1));
    expect(queue.take().map((s) => s.status)).toEqual(['active']);
    queue.add(status('1', 'active', 1));
    queue.add(status('2', 'active', 2));
    queue.add(status('3', 'active', 3));
    expect(queue.take().map((s) => s.version)).toEqual(['2', '3']);
    expect(queue.size).toBe(0);
  });
});
