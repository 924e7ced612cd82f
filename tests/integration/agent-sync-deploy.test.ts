import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { createLogger } from '../../shared/logger.js';
import { generateSigningKeyPair, sha256Hex, signPackage } from '../../shared/package-signature.js';
import { MAX_MESSAGE_BYTES, SYNC_PATH, parseAgentMessage, type Deploy, type Hello, type ModelStatus } from '../../shared/sync-protocol.js';
import { loadConfig } from '../../agent/config/load.js';
import { startAgent, type RunningAgent } from '../../agent/service/start-agent.js';
import { requireBroker } from '../helpers/broker.js';
import { pcaPackage } from '../helpers/pca-package.js';

const TOKEN = 'vga_deploy-test';
const AGENT = 'gw-deploy';
const TAGS = ['p.temp', 'p.flow', 'p.pressure', 'p.current'];

/**
 * The hub's side for deployments, as a test peer: a real HTTP + ws server on
 * one port that welcomes the agent, acks its batches, sends `deploy` notices
 * when the test says, serves package bytes under /api/models/… (token
 * checked), and records every model_status. Built on shared/sync-protocol.ts.
 */
class DeployPeer {
  readonly hellos: Hello[] = [];
  readonly statuses: ModelStatus[] = [];
  readonly packages = new Map<string, Buffer>();
  readonly downloads: string[] = [];
  sockets: WebSocket[] = [];
  /** While set, welcomes wait for it (the agent is connected but not yet welcomed). */
  welcomeGate: Promise<void> | null = null;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  private readonly server: Server = createServer((req, res) => {
    const bytes = this.packages.get(req.url ?? '');
    if (req.headers.authorization !== `Bearer ${TOKEN}` || req.headers['x-vigil-agent'] !== AGENT) return void res.writeHead(401).end('{"error":{"code":"VIGIL_API_UNAUTHORIZED","message":"token"}}');
    if (!bytes) return void res.writeHead(404).end('{"error":{"code":"VIGIL_API_NOT_FOUND","message":"no such package"}}');
    this.downloads.push(req.url!);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length }).end(bytes);
  });
  url = '';

  async start(): Promise<void> {
    this.server.on('upgrade', (req, socket, head) => {
      if (req.url !== SYNC_PATH || req.headers.authorization !== `Bearer ${TOKEN}`) return void socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n');
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get current(): WebSocket {
    return this.sockets[this.sockets.length - 1]!;
  }

  deploy(message: Deploy): void {
    this.current.send(JSON.stringify(message));
  }

  of(deployment: string): string[] {
    return this.statuses.filter((s) => s.deployment === deployment).map((s) => s.status);
  }

  private accept(ws: WebSocket): void {
    this.sockets.push(ws);
    ws.on('message', (data: Buffer) => {
      const parsed = parseAgentMessage(data);
      if (!parsed.ok) throw new Error(`malformed agent message: ${parsed.error}`);
      const m = parsed.message;
      if (m.type === 'hello') {
        this.hellos.push(m);
        void (this.welcomeGate ?? Promise.resolve()).then(() =>
          ws.send(JSON.stringify({ type: 'welcome', protocol: 1, hub: 'deploy-peer', stored: m.acked, heartbeatMs: 60_000, hubTime: Date.now() })),
        );
      } else if (m.type === 'batch') {
        ws.send(JSON.stringify({ type: 'ack', stream: m.stream, epoch: m.epoch, upTo: m.last }));
      } else if (m.type === 'model_status') {
        this.statuses.push(m);
      }
    });
  }
}

async function until<T>(what: string, check: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface ModelsBody {
  models: Array<{ name: string; state: string; active: string | null; pending: string | null; shadow: string | null; lastRefusal: { version: string; reason: string } | null }>;
}

describe('hub deployments on a running agent', () => {
  const hubKey = generateSigningKeyPair();
  const otherKey = generateSigningKeyPair();
  const peer = new DeployPeer();
  const logLines: Array<Record<string, unknown>> = [];
  let dir: string;
  let agent: RunningAgent;
  const packages = new Map<string, Buffer>();

  /** A deploy notice for `bytes`, signed with the hub key unless told otherwise; the bytes are served under its url. */
  const notice = (deployment: string, version: string, mode: 'shadow' | 'activate', bytes: Buffer, o: { serve?: Buffer; signature?: string; sha256?: string; size?: number } = {}): Deploy => {
    const url = `/api/models/pump-pca/versions/${version}/package?d=${deployment}`;
    peer.packages.set(url, o.serve ?? bytes);
    return {
      type: 'deploy',
      deployment,
      model: 'pump-pca',
      version,
      mode,
      rollback: false,
      sha256: o.sha256 ?? sha256Hex(bytes),
      signature: o.signature ?? signPackage(bytes, hubKey.privateKeyPem),
      url,
      size: o.size ?? (o.serve ?? bytes).length,
    };
  };
  const models = async () => ((await (await fetch(`${agent.httpUrl}/models`)).json()) as ModelsBody).models.find((m) => m.name === 'pump-pca');

  beforeAll(async () => {
    const brokerUrl = await requireBroker();
    await peer.start();
    for (const version of ['1.0.0', '1.1.0', '1.2.0', '1.3.0']) packages.set(version, await pcaPackage({ name: 'pump-pca', version, tags: TAGS, samplePeriodMs: 1000 }));
    dir = mkdtempSync(join(tmpdir(), 'vigil-sync-deploy-'));
    writeFileSync(join(dir, 'hub.token'), `${TOKEN}\n`);
    writeFileSync(join(dir, 'hub.pub'), hubKey.publicKeyPem);
    const topic = `vigil-sync-deploy-${process.pid}`;
    writeFileSync(
      join(dir, 'agent.yaml'),
      [
        `agent: { id: ${AGENT}, dataDir: ./state }`,
        'http: { port: 0 }',
        'sources:',
        `  - { name: broker, type: mqtt, url: "${brokerUrl}", clientId: "${topic}" }`,
        'tags:',
        ...TAGS.map((t) => `  - { name: ${t}, source: broker, topic: "${topic}/${t}", format: number }`),
        'hub:',
        `  url: ${peer.url}`,
        '  tokenFile: hub.token',
        '  publicKeyFile: hub.pub',
        '  reconnect: { initialDelayMs: 50, maxDelayMs: 200 }',
      ].join('\n'),
    );
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    agent = await startAgent(await loadConfig(join(dir, 'agent.yaml')), createLogger({ level: 'info' }, sink));
    await until('the welcome', () => agent.hub?.status().connected);
  });
  afterAll(async () => {
    await agent?.stop();
    await peer.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('verifies and activates a signed package: downloading, then active; /models shows it', async () => {
    expect(peer.hellos[0]).toMatchObject({ agent: AGENT, epoch: agent.store.epoch, models: [] });
    peer.deploy(notice('d1', '1.0.0', 'activate', packages.get('1.0.0')!));
    await until('active', () => peer.of('d1').includes('active'));
    expect(peer.of('d1')).toEqual(['downloading', 'active']);
    expect(peer.downloads).toEqual(['/api/models/pump-pca/versions/1.0.0/package?d=d1']);
    expect(await models()).toMatchObject({ state: 'scoring', active: '1.0.0' });
  });

  it('scores a shadow deployment beside the active version', async () => {
    peer.deploy(notice('d2', '1.1.0', 'shadow', packages.get('1.1.0')!));
    await until('shadow', () => peer.of('d2').includes('shadow'));
    expect(peer.of('d2')).toEqual(['downloading', 'shadow']);
    expect(await models()).toMatchObject({ active: '1.0.0', shadow: '1.1.0' });
  });

  it('refuses tampered, unsigned, foreign-signed and mis-sized packages with the reason; the active version keeps scoring', async () => {
    const good = packages.get('1.3.0')!;
    const tampered = Buffer.from(good);
    tampered[tampered.length - 2000] = tampered[tampered.length - 2000]! ^ 0xff;
    const cases: Array<[string, Deploy, RegExp]> = [
      ['t1', notice('t1', '1.3.0', 'activate', good, { serve: tampered }), /sha256 is [0-9a-f]{64}, the hub announced/],
      ['t2', notice('t2', '1.3.0', 'activate', tampered, { signature: signPackage(good, hubKey.privateKeyPem) }), /signature does not match/],
      ['t3', notice('t3', '1.3.0', 'activate', good, { signature: '' }), /unsigned/],
      ['t4', notice('t4', '1.3.0', 'activate', good, { signature: signPackage(good, otherKey.privateKeyPem) }), /signed by another hub/],
      ['t5', notice('t5', '1.3.0', 'activate', good, { size: good.length + 10 }), /the hub announced/],
    ];
    for (const [id, message, reason] of cases) {
      peer.deploy(message);
      await until(`${id} refused`, () => peer.of(id).includes('refused'));
      expect(peer.of(id)).toEqual(['downloading', 'refused']);
      expect(peer.statuses.find((s) => s.deployment === id && s.status === 'refused')?.reason).toMatch(reason);
    }
    expect(await models()).toMatchObject({ state: 'scoring', active: '1.0.0', shadow: '1.1.0', lastRefusal: { version: '1.3.0' } });
    expect(logLines.filter((l) => l.code === 'VIGIL_MODEL_SIGNATURE_INVALID').length).toBeGreaterThanOrEqual(4);
  });

  it('activates the shadow version when its shadow period ends (active at the next window boundary)', async () => {
    peer.deploy(notice('d2', '1.1.0', 'activate', packages.get('1.1.0')!));
    await until('active', () => peer.of('d2').includes('active'));
    expect(peer.of('d2')).toEqual(['downloading', 'shadow', 'downloading', 'active']);
    // No samples flow in this test, so the switch waits for the next window boundary.
    expect(await models()).toMatchObject({ active: '1.0.0', pending: '1.1.0', shadow: null });
  });

  it('keeps statuses produced while the hub is away and sends them after the next welcome', async () => {
    let release!: () => void;
    peer.welcomeGate = new Promise((resolve) => (release = resolve));
    const hellos = peer.hellos.length;
    const ws = peer.current;
    // The hub goes away right after the notice: the agent deploys while it has no welcomed link.
    ws.send(JSON.stringify(notice('d3', '1.2.0', 'shadow', packages.get('1.2.0')!)), () => ws.close(1001, 'hub restarting'));
    await until('the next hello', () => peer.hellos.length > hellos);
    await until('1.2.0 in shadow on the agent', async () => (await models())?.shadow === '1.2.0');
    expect(peer.of('d3')).not.toContain('shadow');

    release();
    peer.welcomeGate = null;
    await until('shadow reported after the welcome', () => peer.of('d3').includes('shadow'));
    expect(peer.of('d3').at(-1)).toBe('shadow');
  });

  it('shows the hub link on /healthz and /metrics', async () => {
    const health = (await (await fetch(`${agent.httpUrl}/healthz`)).json()) as { hub: Record<string, unknown> };
    expect(health.hub).toMatchObject({ configured: true, connected: true, state: 'connected', url: peer.url, lastError: null, backlog: { scores: expect.any(Number), bytes: expect.any(Number) } });
    expect(health.hub.lastConnectedAt).toEqual(expect.any(Number));
    const metrics = await (await fetch(`${agent.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^vigil_sync_connected 1$/m);
    expect(metrics).toMatch(/^vigil_sync_reconnects_total [1-9]/m);
    expect(metrics).toMatch(/^vigil_sync_records_sent_total\{stream="events"\} [1-9]/m);
    expect(metrics).toMatch(/^vigil_sync_acked_total\{stream="events"\} [1-9]/m);
    expect(metrics).toMatch(/^vigil_sync_protocol_errors_total 0$/m);
  });
});
