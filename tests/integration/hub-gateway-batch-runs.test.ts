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
import { CLOSE_CODES, type SyncStream } from '../../shared/sync-protocol.js';
import { batch, connectSync, hello, type RawSyncClient } from '../helpers/raw-sync-client.js';

// Batches that wait together are stored by one ingest and acked one by one,
// in order — and never so that a later batch is stored while an earlier one
// failed. The gateway in-process on real LMDB; ingest can be held or failed.

const dir = mkdtempSync(join(tmpdir(), 'vigil-gateway-runs-'));
let storage: HubStorage;
let server: Server;
let gateway: SyncGateway;
let syncUrl: string;
const ingests: Array<{ stream: SyncStream; seqs: number[] }> = [];
/** `failCall`: the ingest with this number (1 = the first since `ingests` was emptied) throws. */
const fault: { failCall?: number; gate?: Promise<void> } = {};

beforeAll(async () => {
  const real = await openLmdbHubStorage(join(dir, 'store'));
  storage = new Proxy(real, {
    get(target, key, receiver) {
      if (key !== 'ingest') return Reflect.get(target, key, receiver);
      return async (...args: Parameters<HubStorage['ingest']>) => {
        const call = ingests.push({ stream: args[2], seqs: args[3].map((r) => r.seq) });
        await fault.gate;
        if (call === fault.failCall) throw new Error('EIO: injected');
        return target.ingest(...args);
      };
    },
  });
  gateway = new SyncGateway({
    storage,
    auth: new Authenticator(storage),
    metrics: new HubMetrics(() => 0),
    log: silentLogger(),
    registry: new ConnectionRegistry(),
    hooks: { onAgentReady: async () => undefined, onModelStatus: async () => undefined },
    settings: { hubId: 'runs-hub', heartbeatMs: 1000, offlineAfterMs: 30_000, maxQueuedBatches: 8 },
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

async function helloed(id: string): Promise<RawSyncClient> {
  const { token } = await enrolAgent(storage, id, {});
  const client = await connectSync(syncUrl, id, token);
  client.send(hello(id, 'e1'));
  await client.next('welcome');
  return client;
}

/** Holds ingest until the returned function is called. */
function hold(): () => void {
  let release!: () => void;
  fault.gate = new Promise<void>((resolve) => (release = resolve));
  return () => {
    fault.gate = undefined;
    release();
  };
}

const bodies = (n: number) => Array.from({ length: n }, (_, i) => ({ n: i }));
const settle = () => new Promise((r) => setTimeout(r, 300));

describe('gateway: batches that wait together', () => {
  it('stores the waiting batches of one stream with one ingest and acks each, in order', async () => {
    const client = await helloed('runs-ok');
    const release = hold();
    ingests.length = 0;
    client.send(batch('scores', 'e1', 1, bodies(2)));
    await settle();
    client.send(batch('scores', 'e1', 3, bodies(2)));
    client.send(batch('scores', 'e1', 5, bodies(2)));
    client.send(batch('scores', 'e1', 7, bodies(2)));
    client.send(batch('events', 'e1', 1, bodies(1)));
    client.send(batch('scores', 'e1', 9, bodies(1)));
    await settle();
    expect(ingests).toHaveLength(1);
    release();
    const acks = [];
    for (let i = 0; i < 6; i++) {
      const ack = await client.next('ack');
      acks.push(`${ack.stream}:${ack.upTo}`);
    }
    expect(acks).toEqual(['scores:2', 'scores:4', 'scores:6', 'scores:8', 'events:1', 'scores:9']);
    expect(ingests).toEqual([
      { stream: 'scores', seqs: [1, 2] },
      { stream: 'scores', seqs: [3, 4, 5, 6, 7, 8] },
      { stream: 'events', seqs: [1] },
      { stream: 'scores', seqs: [9] },
    ]);
    expect(await storage.countRecords('scores', 'runs-ok')).toBe(9);
    await client.close();
  });

  it('acks none of the batches of a failed ingest, stores none of them, and stores nothing after it', async () => {
    const client = await helloed('runs-fail');
    const release = hold();
    ingests.length = 0;
    client.send(batch('scores', 'e1', 1, bodies(2)));
    await settle();
    for (let first = 3; first <= 21; first += 2) client.send(batch('scores', 'e1', first, bodies(2)));
    await settle();
    // The first ingest goes through; the one holding the next eight batches (at most
    // maxQueuedBatches) fails; the two behind them must not be stored either.
    fault.failCall = 2;
    release();
    expect((await client.closed).code).toBe(CLOSE_CODES.GOING_AWAY);
    expect(client.received.filter((m) => m.type === 'ack').map((m) => (m as { upTo: number }).upTo)).toEqual([2]);
    fault.failCall = undefined;
    expect(ingests).toEqual([
      { stream: 'scores', seqs: [1, 2] },
      { stream: 'scores', seqs: Array.from({ length: 16 }, (_, i) => i + 3) },
    ]);
    expect(await storage.storedUpTo('runs-fail', 'e1', 'scores')).toBe(2);
    expect(await storage.countRecords('scores', 'runs-fail')).toBe(2);
  });

  it('stores and acks the valid batches before a malformed one, then closes with a protocol error', async () => {
    const client = await helloed('runs-bad');
    const release = hold();
    client.send(batch('scores', 'e1', 1, bodies(1)));
    await settle();
    client.send(batch('scores', 'e1', 2, bodies(2)));
    client.send({ ...batch('scores', 'e1', 4, bodies(2)), last: 4 });
    client.send(batch('scores', 'e1', 6, bodies(2)));
    await settle();
    release();
    expect((await client.closed).code).toBe(CLOSE_CODES.PROTOCOL_ERROR);
    expect(client.received.filter((m) => m.type === 'ack').map((m) => (m as { upTo: number }).upTo)).toEqual([1, 3]);
    expect(client.received.at(-1)).toMatchObject({ type: 'error', code: 'VIGIL_SYNC_PROTOCOL' });
    expect(await storage.countRecords('scores', 'runs-bad')).toBe(3);
  });
});
