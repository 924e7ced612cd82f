import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { silentLogger } from '../../shared/logger.js';
import { HISTORY_CHUNK_SAMPLES, MAX_MESSAGE_BYTES, parseAgentMessage, type HistoryChunk, type HistoryError, type HubMessage } from '../../shared/sync-protocol.js';
import { HubSchema } from '../../agent/config/schema.js';
import { ModelRegistry } from '../../agent/models/model-registry.js';
import { openAgentStore, type AgentStore } from '../../agent/store/open-store.js';
import { startHubLink, type HubLink } from '../../agent/sync/hub-link.js';
import { TagTable } from '../../agent/tags/tag-table.js';

const TOKEN = 'vga_test-token';
const AGENT = 'gw-history';
const T0 = Date.UTC(2026, 0, 1);

/**
 * A real ws server standing in for the hub: welcomes the agent, lets the test
 * send history requests and keeps every answer (with its size on the wire).
 */
class HistoryPeer {
  readonly answers: Array<{ message: HistoryChunk | HistoryError; bytes: number }> = [];
  socket: WebSocket | null = null;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  private server: Server | null = null;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((_req, res) => res.writeHead(404).end());
    this.server.on('upgrade', (req, socket, head) => this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws)));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.socket?.terminate();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  send(message: HubMessage): void {
    this.socket!.send(JSON.stringify(message));
  }

  answersTo(request: string): Array<HistoryChunk | HistoryError> {
    return this.answers.map((a) => a.message).filter((m) => m.request === request);
  }

  private accept(ws: WebSocket): void {
    ws.on('message', (data: Buffer) => {
      const parsed = parseAgentMessage(data);
      if (!parsed.ok) throw new Error(`the agent sent a malformed message: ${parsed.error}`);
      const message = parsed.message;
      if (message.type === 'hello') {
        ws.send(JSON.stringify({ type: 'welcome', protocol: 1, hub: 'test-peer', stored: { scores: 0, episodes: 0, events: 0 }, heartbeatMs: 60_000, hubTime: Date.now() } satisfies HubMessage));
        this.socket = ws;
      } else if (message.type === 'history_chunk' || message.type === 'history_error') {
        this.answers.push({ message, bytes: data.length });
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

let dir: string;
let store: AgentStore;
let peer: HistoryPeer;
let link: HubLink;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-sync-history-'));
  writeFileSync(join(dir, 'hub.token'), `${TOKEN}\n`);
  writeFileSync(join(dir, 'hub.pub'), 'not used here\n');
  store = await openAgentStore({ dir: join(dir, 'store'), quotaBytes: 1024 ** 3, historyHours: 1000, log: silentLogger(), agent: AGENT });
  // 120,001 samples of pump1.flow (10 ms apart, every 7th bad with no value), 30 of pump1.temp (1 s apart).
  const flow = Array.from({ length: 120_001 }, (_, i) => ({ tag: 'pump1.flow', ts: T0 + i * 10, value: i % 7 === 0 ? NaN : i / 2, quality: i % 7 === 0 ? ('bad' as const) : ('good' as const) }));
  store.history.append(flow);
  store.history.append(Array.from({ length: 30 }, (_, i) => ({ tag: 'pump1.temp', ts: T0 + i * 1000, value: 40 + i, quality: 'good' as const })));
  await store.history.flush();
  peer = new HistoryPeer();
  await peer.start();
  const tags = new TagTable();
  link = startHubLink({
    agentId: AGENT,
    config: HubSchema.parse({ url: `ws://127.0.0.1:${peer.port}`, tokenFile: join(dir, 'hub.token'), publicKeyFile: join(dir, 'hub.pub') }),
    store,
    history: store.history,
    scoring: { registry: new ModelRegistry(), deploy: () => Promise.reject(new Error('none')), stopShadow: () => Promise.reject(new Error('none')) },
    health: { sources: () => [], tags, dropsTotal: () => 0, assess: () => ({ status: 'ok', reasons: [] }), startedAt: Date.now() },
    log: silentLogger(),
  });
  await until('welcomed', () => peer.socket);
});
afterEach(async () => {
  await link.stop();
  await peer.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('hub link: history requests', () => {
  it('answers with every sample of each tag in the period, in chunks under the message limit, last on the final chunk', async () => {
    peer.send({ type: 'history_request', request: 'r1', tags: ['pump1.flow', 'pump1.temp'], from: T0 + 10, to: T0 + 1_200_000, maxSamples: 200_000 });
    await until('the last chunk', () => peer.answersTo('r1').some((m) => m.type === 'history_chunk' && m.last));
    const chunks = peer.answersTo('r1') as HistoryChunk[];
    expect(chunks.every((c) => c.type === 'history_chunk')).toBe(true);
    expect(chunks.map((c) => [c.tag, c.ts.length, c.last])).toEqual([
      ['pump1.flow', HISTORY_CHUNK_SAMPLES, false],
      ['pump1.flow', HISTORY_CHUNK_SAMPLES, false],
      ['pump1.flow', 20_000, false],
      ['pump1.temp', 29, true],
    ]);
    for (const a of peer.answers) expect(a.bytes).toBeLessThan(MAX_MESSAGE_BYTES);
    const flow = chunks.filter((c) => c.tag === 'pump1.flow');
    const ts = flow.flatMap((c) => c.ts);
    expect(ts[0]).toBe(T0 + 10);
    expect(ts.at(-1)).toBe(T0 + 1_200_000);
    expect(ts.every((t, i) => i === 0 || t > ts[i - 1]!)).toBe(true);
    const values = flow.flatMap((c) => c.values);
    const quality = flow.flatMap((c) => c.quality);
    // Sample i = 7 (ts T0 + 70) is the 7th in the answer: bad, no value; its neighbour keeps its value.
    expect([values[6], quality[6]]).toEqual([null, 'bad']);
    expect([values[7], quality[7]]).toEqual([4, 'good']);
  });

  it('answers history_error for a tag without samples in the period, and for more samples than asked for', async () => {
    peer.send({ type: 'history_request', request: 'unknown', tags: ['pump1.temp', 'no.such.tag'], from: T0, to: T0 + 60_000, maxSamples: 1000 });
    peer.send({ type: 'history_request', request: 'outside', tags: ['pump1.temp'], from: T0 - 120_000, to: T0 - 60_000, maxSamples: 1000 });
    peer.send({ type: 'history_request', request: 'too-many', tags: ['pump1.flow'], from: T0, to: T0 + 1_200_000, maxSamples: 1000 });
    await until('three answers', () => peer.answers.length >= 3);
    expect(peer.answersTo('unknown')).toEqual([{ type: 'history_error', request: 'unknown', message: expect.stringMatching(/no samples of tag no\.such\.tag/) }]);
    expect(peer.answersTo('outside')).toEqual([{ type: 'history_error', request: 'outside', message: expect.stringMatching(/no samples of tag pump1\.temp/) }]);
    expect(peer.answersTo('too-many')).toEqual([{ type: 'history_error', request: 'too-many', message: expect.stringMatching(/120001 samples .* more than the 1000/) }]);
    // No half answer went out before an error.
    expect(peer.answers.every((a) => a.message.type === 'history_error')).toBe(true);
  });
});
