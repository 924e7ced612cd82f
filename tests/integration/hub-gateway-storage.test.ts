import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../../cloud-sync/auth/authenticator.js';
import { enrolAgent } from '../../cloud-sync/auth/agent-enrolment.js';
import { ConnectionRegistry } from '../../cloud-sync/gateway/connection-registry.js';
import { SyncGateway } from '../../cloud-sync/gateway/sync-gateway.js';
import { HubMetrics } from '../../cloud-sync/server/hub-metrics.js';
import type { HubStorage } from '../../cloud-sync/storage/hub-storage.js';
import { openLmdbHubStorage } from '../../cloud-sync/storage/lmdb-storage.js';
import { silentLogger } from '../../shared/logger.js';
import { CLOSE_CODES } from '../../shared/sync-protocol.js';
import { batch, connectSync, hello } from '../helpers/raw-sync-client.js';

// The gateway in-process on real LMDB, with faults injected into ingest: a
// failing write, and a write that hangs until released.

const dir = mkdtempSync(join(tmpdir(), 'vigil-gateway-'));
let storage: HubStorage;
let server: Server;
let gateway: SyncGateway;
let syncUrl: string;
const metrics = new HubMetrics(() => 0);
const fault: { failNext: boolean; gate?: Promise<void>; ingestCalls: number } = { failNext: false, ingestCalls: 0 };

beforeAll(async () => {
  const real = await openLmdbHubStorage(join(dir, 'store'));
  storage = new Proxy(real, {
    get(target, key, receiver) {
      if (key !== 'ingest') return Reflect.get(target, key, receiver);
      return async (...args: Parameters<HubStorage['ingest']>) => {
        fault.ingestCalls++;
        if (fault.failNext) {
          fault.failNext = false;
          throw new Error('MDB_MAP_FULL: injected');
        }
        await fault.gate;
        return target.ingest(...args);
      };
    },
  });
  const registry = new ConnectionRegistry();
  gateway = new SyncGateway({
    storage,
    auth: new Authenticator(storage),
    metrics,
    log: silentLogger(),
    registry,
    hooks: { onAgentReady: async () => undefined, onModelStatus: async () => undefined },
    settings: { hubId: 'gw-test-hub', heartbeatMs: 1000, offlineAfterMs: 30_000, maxQueuedBatches: 8 },
  });
  server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', gateway.handleUpgrade);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  syncUrl = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/sync`;
});

afterAll(async () => {
  await gateway?.stop();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await storage?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function helloed(id: string, token: string) {
  const client = await connectSync(syncUrl, id, token);
  client.send(hello(id, 'e1'));
  return { client, welcome: await client.next('welcome') };
}

describe('gateway and storage faults', () => {
  it('a failed write is not acknowledged; the connection closes and the resend after reconnecting is stored once', async () => {
    const { token } = await enrolAgent(storage, 'gw-fail', {});
    const { client } = await helloed('gw-fail', token);
    fault.failNext = true;
    client.send(batch('scores', 'e1', 1, [{ n: 1 }, { n: 2 }]));
    expect((await client.closed).code).toBe(CLOSE_CODES.GOING_AWAY);
    expect(client.received.some((m) => m.type === 'ack')).toBe(false);

    const again = await helloed('gw-fail', token);
    expect(again.welcome.stored.scores).toBe(0);
    again.client.send(batch('scores', 'e1', 1, [{ n: 1 }, { n: 2 }]));
    expect(await again.client.next('ack')).toMatchObject({ upTo: 2 });
    expect(await storage.countRecords('scores', 'gw-fail')).toBe(2);
    expect(await metrics.registry.getSingleMetricAsString('vigil_hub_storage_failures_total')).toMatch(/ 1$/m);
    await again.client.close();
  });

  it('stops reading a connection while too many batches wait for storage, then drains them in order', async () => {
    const { token } = await enrolAgent(storage, 'gw-slow', {});
    const { client } = await helloed('gw-slow', token);
    let release!: () => void;
    fault.gate = new Promise<void>((resolve) => (release = resolve));
    const callsBefore = fault.ingestCalls;

    const body = { blob: 'x'.repeat(400_000) };
    const count = 60;
    for (let i = 0; i < count; i++) client.send(batch('scores', 'e1', i + 1, [body]));
    await new Promise((r) => setTimeout(r, 500));
    // The hub paused the socket: most of the ~24 MB is still on the agent's side.
    expect(client.ws.bufferedAmount).toBeGreaterThan(5_000_000);
    expect(fault.ingestCalls - callsBefore).toBe(1);

    release();
    fault.gate = undefined;
    const acks: number[] = [];
    for (let i = 0; i < count; i++) acks.push((await client.next('ack', 15_000)).upTo);
    expect(acks).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(client.ws.bufferedAmount).toBe(0);
    expect(await storage.countRecords('scores', 'gw-slow')).toBe(count);
    await client.close();
  });
});
