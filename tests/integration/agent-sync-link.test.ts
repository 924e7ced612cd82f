import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { createLogger, silentLogger, type Logger } from '../../shared/logger.js';
import {
  MAX_MESSAGE_BYTES,
  PROTOCOL_VERSIONS,
  SYNC_PATH,
  SYNC_STREAMS,
  batchSeqError,
  parseAgentMessage,
  type Batch,
  type Heartbeat,
  type Hello,
  type HubMessage,
  type SyncStream,
} from '../../shared/sync-protocol.js';
import { VIGIL_VERSION } from '../../shared/version.js';
import { HubSchema } from '../../agent/config/schema.js';
import { ModelRegistry } from '../../agent/models/model-registry.js';
import { openAgentStore, type AgentStore } from '../../agent/store/open-store.js';
import { startHubLink, type HubLink, type HubLinkOptions } from '../../agent/sync/hub-link.js';
import { TagTable } from '../../agent/tags/tag-table.js';

const TOKEN = 'vga_test-token';
const AGENT = 'gw-sync';

type Cursors = Record<SyncStream, number>;

/**
 * The other end of the link for these tests: a real ws server on a real
 * port that speaks the protocol through shared/sync-protocol.ts — checks the
 * token in the upgrade, welcomes, stores batches by (epoch, stream, seq) and
 * acks them. Not the hub (cloud-sync/ is built separately); each test turns
 * its behaviour (acks, delays, pauses, bad messages) as it needs.
 */
class TestPeer {
  readonly hellos: Hello[] = [];
  readonly batches: Batch[] = [];
  readonly heartbeats: Heartbeat[] = [];
  readonly closes: number[] = [];
  upgrades = 0;
  /** Stored seqs per `${epoch}/${stream}`. */
  readonly stored = new Map<string, Set<number>>();
  token = TOKEN;
  autoAck = true;
  /** Delay before each batch is "stored" and acked, ms; batches of one connection are handled in order, like the hub does. */
  storeDelayMs = 0;
  /** What welcome says was stored; default: the highest seq received per stream. */
  storedCursor: ((epoch: string) => Cursors) | null = null;
  /** Sent right after the welcome of the next connection, raw. */
  afterWelcome: string | null = null;
  onBatch: ((batch: Batch, ws: WebSocket) => void) | null = null;
  sockets: WebSocket[] = [];
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  private server: Server | null = null;
  port = 0;

  async start(port = 0): Promise<void> {
    this.server = createServer((_req, res) => res.writeHead(404).end());
    this.server.on('upgrade', (req, socket, head) => {
      this.upgrades++;
      if (req.url !== SYNC_PATH || req.headers.authorization !== `Bearer ${this.token}` || req.headers['x-vigil-agent'] !== AGENT) {
        const body = JSON.stringify({ error: { code: 'VIGIL_HUB_UNAUTHORIZED', message: 'unknown agent or wrong token' } });
        socket.end(`HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.sockets = [];
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }

  seqs(stream: SyncStream, epoch: string): number[] {
    return [...(this.stored.get(`${epoch}/${stream}`) ?? [])].sort((a, b) => a - b);
  }

  private highest(epoch: string): Cursors {
    const out = { scores: 0, episodes: 0, events: 0 };
    for (const stream of SYNC_STREAMS) out[stream] = Math.max(0, ...this.seqs(stream, epoch));
    return out;
  }

  private accept(ws: WebSocket): void {
    this.sockets.push(ws);
    ws.on('close', (code) => this.closes.push(code));
    const send = (message: HubMessage) => ws.send(JSON.stringify(message));
    let queue = Promise.resolve();
    ws.on('message', (data: Buffer) => {
      const parsed = parseAgentMessage(data);
      if (!parsed.ok) throw new Error(`the agent sent a malformed message: ${parsed.error}`);
      const message = parsed.message;
      switch (message.type) {
        case 'hello': {
          this.hellos.push(message);
          const stored = this.storedCursor ? this.storedCursor(message.epoch) : this.highest(message.epoch);
          send({ type: 'welcome', protocol: 1, hub: 'test-peer', stored, heartbeatMs: 60_000, hubTime: Date.now() });
          if (this.afterWelcome) {
            ws.send(this.afterWelcome);
            this.afterWelcome = null;
          }
          return;
        }
        case 'batch': {
          const problem = batchSeqError(message);
          if (problem) throw new Error(`bad batch: ${problem}`);
          this.batches.push(message);
          this.onBatch?.(message, ws);
          queue = queue.then(async () => {
            if (this.storeDelayMs > 0) await new Promise((r) => setTimeout(r, this.storeDelayMs));
            const key = `${message.epoch}/${message.stream}`;
            const set = this.stored.get(key) ?? new Set<number>();
            for (const r of message.records) set.add(r.seq);
            this.stored.set(key, set);
            if (this.autoAck && ws.readyState === ws.OPEN) send({ type: 'ack', stream: message.stream, epoch: message.epoch, upTo: message.last });
          });
          return;
        }
        case 'heartbeat':
          this.heartbeats.push(message);
          send({ type: 'heartbeat_ack', agentSentAt: message.sentAt, hubTime: Date.now(), skewMs: 1234 });
          return;
        case 'model_status':
          return;
      }
    });
  }
}

async function until<T>(what: string, check: () => T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Log lines as objects, for asserting codes. */
function memoryLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger({ level: 'debug' }, sink), lines };
}

let dir: string;
let store: AgentStore;
let peer: TestPeer;
let link: HubLink | undefined;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-sync-link-'));
  writeFileSync(join(dir, 'hub.token'), `${TOKEN}\n`);
  writeFileSync(join(dir, 'hub.pub'), 'not used here\n');
  store = await openAgentStore({ dir: join(dir, 'store'), quotaBytes: 1024 ** 3, historyHours: 1, log: silentLogger(), agent: AGENT });
  peer = new TestPeer();
  await peer.start();
});
afterEach(async () => {
  await link?.stop();
  link = undefined;
  await peer.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function startLink(hub: Record<string, unknown> = {}, extra: Partial<HubLinkOptions> = {}): HubLink {
  const config = HubSchema.parse({
    url: peer.url,
    tokenFile: join(dir, 'hub.token'),
    publicKeyFile: join(dir, 'hub.pub'),
    reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    ...hub,
  });
  const tags = new TagTable();
  tags.configure([{ name: 'pump1.temp', source: 'plc1' }]);
  link = startHubLink({
    agentId: AGENT,
    config,
    store,
    scoring: {
      registry: new ModelRegistry(),
      deploy: () => Promise.reject(new Error('no deployments in these tests')),
      stopShadow: () => Promise.reject(new Error('no deployments in these tests')),
    },
    health: { sources: () => [], tags, dropsTotal: () => 7, assess: () => ({ status: 'ok', reasons: [] }), startedAt: Date.now() },
    log: silentLogger(),
    ...extra,
  });
  return link;
}

const scoreBodies = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ model: 'pump-pca@1.0.0', windowStart: from + i, score: i / 10 }));

/** Every batch of a stream, in the order sent, carries the next seqs with no gap or overlap (within one connection). */
function expectContiguous(batches: Batch[], stream: SyncStream, from: number, to: number): void {
  let next = from;
  for (const b of batches.filter((x) => x.stream === stream)) {
    expect(b.first).toBe(next);
    expect(b.records.map((r) => r.seq)).toEqual(Array.from({ length: b.records.length }, (_, i) => next + i));
    next = b.last + 1;
  }
  expect(next - 1).toBe(to);
}

describe('hub link: hello, drain, acks', () => {
  it('says hello, sends every stream in seq order without gaps, deletes what the hub acked, and wakes up for new records', async () => {
    await store.outbox.append('scores', scoreBodies(1200));
    await store.outbox.append('episodes', [{ id: 'ep-1' }, { id: 'ep-2' }]);
    await store.outbox.append('events', [{ kind: 'agent_started' }]);
    const l = startLink({ batchRecords: 500, heartbeatMs: 100 });

    const hello = await until('hello', () => peer.hellos[0]);
    expect(hello).toMatchObject({ protocols: [...PROTOCOL_VERSIONS], agent: AGENT, software: VIGIL_VERSION, epoch: store.epoch, acked: { scores: 0, episodes: 0, events: 0 }, models: [] });
    expect(store.epoch).toMatch(/^[0-9a-f]{32}$/);

    await until('everything stored and acked', () => store.outbox.stats().scores.acked === 1200 && store.outbox.stats().events.acked === 1);
    expectContiguous(peer.batches, 'scores', 1, 1200);
    expectContiguous(peer.batches, 'episodes', 1, 2);
    expect(Math.max(...peer.batches.map((b) => b.records.length))).toBeLessThanOrEqual(500);
    expect(peer.batches.every((b) => b.epoch === store.epoch)).toBe(true);
    expect(peer.batches.find((b) => b.stream === 'scores')?.records[0]?.body).toEqual({ model: 'pump-pca@1.0.0', windowStart: 0, score: 0 });
    expect(store.outbox.stats().scores.pendingCount).toBe(0);
    expect(store.outbox.pending('scores', 0, 10)).toEqual([]);

    // New records are sent as soon as they are durable, without polling by the test.
    await store.outbox.append('episodes', [{ id: 'ep-3' }]);
    await until('the new episode', () => peer.seqs('episodes', store.epoch).includes(3));

    // Heartbeats carry the health; the hub's skew estimate is kept.
    const beat = await until('a heartbeat', () => peer.heartbeats[0]);
    expect(beat.health).toMatchObject({ sourcesConnected: 0, sourcesTotal: 0, tagsConfigured: 1, tagsLive: 0, dropsTotal: 7, status: 'ok' });
    expect(beat.health.rssBytes).toBeGreaterThan(0);
    await until('skew from heartbeat_ack', () => l.status().skewMs === 1234);
    const status = l.status();
    expect(status).toMatchObject({ state: 'connected', connected: true, lastError: null });
    expect(status.counters.recordsSent).toEqual({ scores: 1200, episodes: 3, events: 1 });
    expect(status.counters.acked).toEqual({ scores: 1200, episodes: 3, events: 1 });
  });

  it('after lost acks and a reconnect, acks up to what the hub stored and resends from there; duplicate and foreign acks are harmless', async () => {
    await store.outbox.append('scores', scoreBodies(1000));
    peer.autoAck = false;
    startLink({ batchRecords: 100, inFlightBatches: 64 });
    await until('all scores sent once', () => peer.seqs('scores', store.epoch).length === 1000);
    expect(store.outbox.stats().scores.acked).toBe(0);

    // The hub kept only up to 700 (say it lost the rest); its acks never arrived.
    peer.storedCursor = () => ({ scores: 700, episodes: 0, events: 0 });
    peer.autoAck = true;
    const before = peer.batches.length;
    peer.sockets[0]!.terminate();

    await until('the second hello', () => peer.hellos[1]);
    expect(peer.hellos[1]!.acked.scores).toBe(0);
    await until('the rest acked', () => store.outbox.stats().scores.acked === 1000);
    expectContiguous(peer.batches.slice(before), 'scores', 701, 1000);

    // Acks again for what is gone, and an ack of another epoch, change nothing.
    const ws = peer.sockets[1]!;
    ws.send(JSON.stringify({ type: 'ack', stream: 'scores', epoch: store.epoch, upTo: 500 }));
    ws.send(JSON.stringify({ type: 'ack', stream: 'scores', epoch: 'another-epoch', upTo: 1000 }));
    await store.outbox.append('scores', scoreBodies(1, 1000));
    await until('seq 1001 acked', () => store.outbox.stats().scores.acked === 1001);
    expect(peer.closes).toEqual([1006]);
  });

  it('waits out a hub that is down and sends everything once it is back (VIGIL_HUB_UNREACHABLE logged)', async () => {
    const port = peer.port;
    await peer.stop();
    const { log, lines } = memoryLogger();
    const l = startLink({}, { log });
    await store.outbox.append('events', [{ kind: 'a' }, { kind: 'b' }]);
    await until('unreachable logged', () => lines.find((l) => l.code === 'VIGIL_HUB_UNREACHABLE'));
    expect(l.status()).toMatchObject({ connected: false, state: expect.stringMatching(/waiting|connecting/) });
    expect(l.status().lastError).toMatch(/ECONNREFUSED/);
    await new Promise((r) => setTimeout(r, 300));

    await peer.start(port);
    await until('events acked after the hub came back', () => store.outbox.stats().events.acked === 2);
    expect(l.status().connected).toBe(true);
    expect(l.status().counters.reconnects).toBeGreaterThanOrEqual(1);
  });
});

describe('hub link: fairness and backpressure', () => {
  it('drains a backlog of 20,000 scores while a live episode gets through promptly', async () => {
    for (let i = 0; i < 20_000; i += 5000) await store.outbox.append('scores', scoreBodies(5000, i));
    peer.storeDelayMs = 5;
    startLink({ batchRecords: 200 });
    await until('the drain under way', () => peer.seqs('scores', store.epoch).length >= 1000);

    await store.outbox.append('episodes', [{ id: 'live' }]);
    const appended = Date.now();
    await until('the live episode', () => peer.batches.some((b) => b.stream === 'episodes'));
    const latency = Date.now() - appended;
    const scoresBefore = peer.batches.filter((b) => b.stream === 'scores').length;
    expect(scoresBefore * 200).toBeLessThan(20_000);
    expect(latency).toBeLessThan(1000);

    await until('the whole backlog acked', () => store.outbox.stats().scores.acked === 20_000, 20_000);
    expectContiguous(peer.batches, 'scores', 1, 20_000);
  });

  it('stops sending while the websocket buffers more than the bound, and goes on when it drains', async () => {
    const big = 'x'.repeat(1024 * 1024);
    for (let i = 0; i < 40; i += 10) await store.outbox.append('events', Array.from({ length: 10 }, (_, j) => ({ kind: 'big', n: i + j, big })));
    let paused: WebSocket | null = null;
    peer.onBatch = (_batch, ws) => {
      if (!paused) {
        paused = ws;
        ws.pause();
      }
    };
    const l = startLink({ inFlightBatches: 64 }, { maxBufferedBytes: 8 * 1024 * 1024 });
    await until('the first batch', () => paused);
    await new Promise((r) => setTimeout(r, 1000));
    const sentWhilePaused = l.status().counters.recordsSent.events;
    // 40 MiB wait; the link sent the first batches and stopped at the bound (plus what the kernel's socket buffers took).
    expect(sentWhilePaused).toBeGreaterThan(0);
    expect(sentWhilePaused).toBeLessThan(40);

    paused!.resume();
    await until('all 40 acked', () => store.outbox.stats().events.acked === 40, 15_000);
    expectContiguous(peer.batches, 'events', 1, 40);
  });
});

describe('hub link: errors', () => {
  it('closes with 4000 on a malformed hub message, counts it, and reconnects', async () => {
    const { log, lines } = memoryLogger();
    peer.afterWelcome = JSON.stringify({ type: 'ack', stream: 'scores' });
    const l = startLink({}, { log });
    await until('the second hello', () => peer.hellos[1]);
    expect(peer.closes[0]).toBe(4000);
    expect(l.status().counters.protocolErrors).toBe(1);
    expect(lines.find((x) => x.code === 'VIGIL_SYNC_PROTOCOL')?.msg).toMatch(/malformed message/);
    await until('connected again', () => l.status().connected);

    // Not JSON at all, and an ack beyond what this store made durable: the same.
    peer.sockets[1]!.send('{{{');
    await until('the third hello', () => peer.hellos[2]);
    peer.sockets[2]!.send(JSON.stringify({ type: 'ack', stream: 'events', epoch: store.epoch, upTo: 99 }));
    await until('the fourth hello', () => peer.hellos[3]);
    expect(peer.closes.slice(0, 3)).toEqual([4000, 4000, 4000]);
    expect(l.status().counters.protocolErrors).toBe(3);
  });

  it('reports a token refused at the upgrade (401) and tries again later, with a longer wait', async () => {
    const { log, lines } = memoryLogger();
    peer.token = 'vga_the-right-one';
    const l = startLink({ reconnect: { initialDelayMs: 20, maxDelayMs: 100 } }, { log });
    await until('unauthorized', () => l.status().state === 'unauthorized');
    expect(l.status().lastError).toMatch(/401: unknown agent or wrong token/);
    expect(lines.find((x) => x.code === 'VIGIL_HUB_UNAUTHORIZED')).toBeDefined();
    expect(peer.sockets).toEqual([]);

    await new Promise((r) => setTimeout(r, 700));
    // Retried, but slower than the 20 ms an unreachable hub would get (≥ 100 ms, doubling).
    expect(peer.upgrades).toBeGreaterThanOrEqual(2);
    expect(peer.upgrades).toBeLessThanOrEqual(5);

    // The token file is fixed: the next try gets in, without a restart.
    writeFileSync(join(dir, 'hub.token'), 'vga_the-right-one\n');
    await until('connected', () => l.status().connected, 15_000);
  });
});
