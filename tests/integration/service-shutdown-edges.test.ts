import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRACEFUL_STOP_MS } from '../../agent/service/signals.js';
import { openAgentStore } from '../../agent/store/open-store.js';
import { silentLogger } from '../../shared/logger.js';
import { spawnVigil } from '../helpers/agent-process.js';
import { requireBroker } from '../helpers/broker.js';
import { startFakeNotifySocket, type FakeNotifySocket } from '../helpers/fake-notify-socket.js';
import { api, startHubProcess, type HubProcess } from '../helpers/hub-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HANGING_STOP = fileURLToPath(new URL('../fixtures/service/hanging-stop.ts', import.meta.url));

interface LogEntry {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** Runs tests/fixtures/service/hanging-stop.ts: onShutdownSignal with a given bound, then a stop that hangs or finishes. */
function runStopFixture(boundMs: number, mode: 'hang' | 'finish') {
  const child = spawn(process.execPath, ['--import', 'tsx', HANGING_STOP, String(boundMs), mode], { cwd: ROOT, env: { ...process.env, VIGIL_LOG_LEVEL: 'info' } });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.once('exit', (code) => resolve({ code, at: Date.now() })));
  const entries = () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogEntry);
  const waitForLog = async (msg: string) => {
    const deadline = Date.now() + 30_000;
    while (!entries().some((e) => e.msg === msg)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no "${msg}" log line; output:\n${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { child, exited, entries, waitForLog };
}

/**
 * The edges of a graceful stop: the bound on a stop that hangs, a second
 * signal, a SIGTERM during start-up, and the hub seeing the agent's link
 * close normally.
 */
describe('shutdown edges', () => {
  let brokerUrl: string;
  let notify: FakeNotifySocket;
  let dir: string;
  const prefix = `vigil-stop-edges-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    brokerUrl = await requireBroker();
    notify = await startFakeNotifySocket();
    dir = mkdtempSync(join(tmpdir(), 'vigil-stop-edges-'));
  });
  afterAll(async () => {
    await notify?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('onShutdownSignal: a stop that hangs past the bound exits 1 with the log line that says so', async () => {
    const run = runStopFixture(800, 'hang');
    try {
      await run.waitForLog('waiting for a signal');
      const sentAt = Date.now();
      run.child.kill('SIGTERM');
      const { code, at } = await run.exited;
      expect(code).toBe(1);
      // Not before the bound, and not much after it.
      expect(at - sentAt).toBeGreaterThanOrEqual(800);
      expect(at - sentAt).toBeLessThan(5000);
      if (!run.child.stdout.closed) await once(run.child.stdout, 'close');
      const msgs = run.entries().map((e) => e.msg);
      expect(msgs).toContain('stopping');
      expect(run.entries().find((e) => e.msg === 'shutting down')).toMatchObject({ signal: 'SIGTERM', boundMs: 800 });
      expect(run.entries().find((e) => e.msg.startsWith('the graceful stop did not finish'))).toMatchObject({
        level: 50,
        boundMs: 800,
        msg: 'the graceful stop did not finish within 1 s; exiting now (records already committed are kept)',
      });
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('onShutdownSignal: a stop that finishes exits at once (the bound timer holds nothing open); a second signal exits 130 at once', async () => {
    const quick = runStopFixture(30_000, 'finish');
    try {
      await quick.waitForLog('waiting for a signal');
      const sentAt = Date.now();
      quick.child.kill('SIGINT');
      const { code, at } = await quick.exited;
      expect(code).toBe(0);
      expect(at - sentAt).toBeLessThan(5000);
    } finally {
      quick.child.kill('SIGKILL');
    }

    const twice = runStopFixture(30_000, 'hang');
    try {
      await twice.waitForLog('waiting for a signal');
      twice.child.kill('SIGTERM');
      await twice.waitForLog('stopping');
      const secondAt = Date.now();
      twice.child.kill('SIGINT');
      const { code, at } = await twice.exited;
      expect(code).toBe(130);
      expect(at - secondAt).toBeLessThan(5000);
      if (!twice.child.stdout.closed) await once(twice.child.stdout, 'close');
      expect(twice.entries().find((e) => e.msg === 'second signal: exiting now')).toMatchObject({ level: 40, signal: 'SIGINT' });
      expect(twice.entries().some((e) => e.msg.startsWith('the graceful stop did not finish'))).toBe(false);
    } finally {
      twice.child.kill('SIGKILL');
    }
  });

  it('SIGTERM during start-up: the agent finishes starting, stops everything it started and exits 0, without ever reporting READY', async () => {
    const agentDir = join(dir, 'startup');
    const config = join(dir, 'startup.yaml');
    writeFileSync(
      config,
      [
        `agent: { id: startup-gw, dataDir: ${agentDir} }`,
        'http: { port: 0 }',
        'sources:',
        `  - { name: broker, type: mqtt, url: "${brokerUrl}", clientId: "${prefix}-startup" }`,
        'tags:',
        `  - { name: level, source: broker, topic: "${prefix}/level", format: number }`,
      ].join('\n') + '\n',
    );
    const before = notify.messages().length;
    const agent = spawnVigil(['agent', '--config', config], { NOTIFY_SOCKET: notify.address });
    let sentAt = 0;
    // The moment the agent starts its pipeline (its handlers are in place by then): SIGTERM, as `systemctl stop` right after start.
    agent.child.stdout.on('data', () => {
      if (sentAt === 0 && agent.stdout().includes('"msg":"agent starting"')) {
        sentAt = Date.now();
        agent.child.kill('SIGTERM');
      }
    });
    try {
      const code = await agent.exited;
      if (!agent.child.stdout.closed) await once(agent.child.stdout, 'close');
      expect(code, agent.stdout() + agent.stderr()).toBe(0);
      expect(sentAt).toBeGreaterThan(0);
      // Well within the bound: nothing it half-started (an MQTT client still waiting for CONNACK) holds the process open.
      expect(Date.now() - sentAt).toBeLessThan(Math.min(8000, GRACEFUL_STOP_MS));
      const msgs = agent
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => (JSON.parse(l) as LogEntry).msg);
      expect(msgs).toContain('a stop was asked for during start-up: stopping without reporting ready');
      // Started (sources included), then stopped, in that order.
      expect(msgs.indexOf('agent running')).toBeGreaterThan(msgs.indexOf('shutting down'));
      expect(msgs.indexOf('agent stopped')).toBeGreaterThan(msgs.indexOf('agent running'));
      expect(msgs).not.toContain('the graceful stop did not finish within 20 s; exiting now (records already committed are kept)');
      // systemd hears STOPPING=1 and never READY=1.
      await notify.waitFor('STOPPING', 5000, before);
      expect(notify.messages().slice(before).some((m) => m.fields.READY === '1')).toBe(false);
      // The store was closed properly: it opens again at once, not quarantined.
      const events: string[] = [];
      const store = await openAgentStore({ dir: join(agentDir, 'store'), quotaBytes: 1e9, historyHours: 24, log: silentLogger(), onEvent: (e) => void events.push(e.kind) });
      await store.close();
      expect(events).toEqual([]);
    } finally {
      agent.child.kill('SIGKILL');
    }
  }, 60_000);

  it('SIGTERM during the hub\'s start-up: it finishes starting, stops cleanly (exit 0) and never reports READY=1', async () => {
    const hubDir = join(dir, 'hub-early-stop');
    mkdirSync(hubDir, { recursive: true });
    const configFile = join(hubDir, 'hub.yaml');
    writeFileSync(configFile, ['hub:', '  id: early-stop-hub', '  dataDir: ./data', 'http:', '  host: 127.0.0.1', '  port: 0', ''].join('\n'));
    const before = notify.messages().length;
    const hub = spawnVigil(['hub', '--config', configFile], { NOTIFY_SOCKET: notify.address });
    let sentAt = 0;
    hub.child.stdout.on('data', () => {
      if (sentAt === 0 && hub.stdout().includes('"msg":"hub starting"')) {
        sentAt = Date.now();
        hub.child.kill('SIGTERM');
      }
    });
    try {
      const code = await hub.exited;
      expect(code, hub.stdout() + hub.stderr()).toBe(0);
      expect(sentAt).toBeGreaterThan(0);
      expect(Date.now() - sentAt).toBeLessThan(Math.min(8000, GRACEFUL_STOP_MS));
      const msgs = hub
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => (JSON.parse(l) as LogEntry).msg);
      expect(msgs).toContain('a stop was asked for during start-up: stopping without reporting ready');
      expect(msgs.indexOf('hub stopped')).toBeGreaterThan(msgs.indexOf('hub running'));
      await notify.waitFor('STOPPING', 5000, before);
      expect(notify.messages().slice(before).some((m) => m.fields.READY === '1')).toBe(false);
    } finally {
      hub.child.kill('SIGKILL');
    }
  }, 60_000);

  it('SIGTERM: the hub sees the agent close its link normally (1000, "agent stopping")', async () => {
    let hub: HubProcess | undefined;
    const agentDir = join(dir, 'linked');
    try {
      hub = await startHubProcess();
      const token = await hub.addAgent('linked-gw');
      writeFileSync(join(dir, 'linked.token'), token + '\n');
      writeFileSync(join(dir, 'hub.pub'), (await api(hub.url, '/api/signing-key')).text);
      const config = join(dir, 'linked.yaml');
      writeFileSync(
        config,
        [
          `agent: { id: linked-gw, dataDir: ${agentDir} }`,
          'http: { port: 0 }',
          'sources:',
          `  - { name: broker, type: mqtt, url: "${brokerUrl}", clientId: "${prefix}-linked" }`,
          'tags:',
          `  - { name: level, source: broker, topic: "${prefix}/level", format: number }`,
          'hub:',
          `  url: ${hub.url.replace(/^http/, 'ws')}`,
          '  tokenFile: linked.token',
          '  publicKeyFile: hub.pub',
        ].join('\n') + '\n',
      );
      const agent = spawnVigil(['agent', '--config', config]);
      try {
        await agent.waitForLog('agent running');
        const connected = await hub.process.waitForLog('agent connected');
        expect(connected.agent).toBe('linked-gw');
        agent.child.kill('SIGTERM');
        expect(await agent.exited).toBe(0);
        const closed = await hub.process.waitForLog('agent disconnected', 10_000);
        expect(closed).toMatchObject({ agent: 'linked-gw', code: 1000, reason: 'agent stopping' });
      } finally {
        agent.child.kill('SIGKILL');
      }
    } finally {
      await hub?.stop();
    }
  }, 60_000);
});
