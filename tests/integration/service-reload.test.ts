import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_NAMESPACE_URI, startOpcuaPlant, type OpcuaPlant } from '../../agent/demo/opcua-plant.js';
import { openAgentStore } from '../../agent/store/open-store.js';
import { silentLogger } from '../../shared/logger.js';
import { eventually, spawnVigil } from '../helpers/agent-process.js';
import { startFakeNotifySocket, type FakeNotifySocket } from '../helpers/fake-notify-socket.js';

interface TagRow {
  tag: string;
  source: string;
  samples: number;
  ts: number | null;
}

const node = (signal: string) => `nsu=${DEMO_NAMESPACE_URI};s=${signal}`;
const csv = (rows: string[]) => ['name,source,nodeId', ...rows].join('\n') + '\n';

/**
 * A TCP proxy in front of the OPC UA server that makes every new connection
 * wait before it reaches the server: a PLC that takes its time to open a
 * session. A source restarted by stopping it and then connecting again would
 * leave a gap that long in its data; the handover must not.
 */
async function startSlowConnectProxy(targetPort: number, delayMs: number): Promise<{ endpoint: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((downstream) => {
    downstream.pause();
    sockets.add(downstream);
    const timer = setTimeout(() => {
      const upstream = connect(targetPort, '127.0.0.1', () => {
        downstream.pipe(upstream).pipe(downstream);
        downstream.resume();
      });
      sockets.add(upstream);
      const end = () => (downstream.destroy(), upstream.destroy());
      for (const s of [downstream, upstream]) s.on('error', end).on('close', end);
    }, delayMs);
    downstream.on('error', () => clearTimeout(timer)).on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    endpoint: `opc.tcp://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * `vigil agent` as a service would run it, with a real OPC UA server: the tag
 * file changes on disk while the agent runs; the changes apply without a
 * restart, the unchanged tag keeps flowing through the source's handover to
 * a new session, and an invalid file is refused with its file and line.
 */
describe('configuration reload (real agent process, real OPC UA server)', () => {
  let plant: OpcuaPlant;
  let proxy: Awaited<ReturnType<typeof startSlowConnectProxy>>;
  let notify: FakeNotifySocket;
  let dir: string;

  beforeAll(async () => {
    plant = await startOpcuaPlant({ port: 0, pumps: 2, updateIntervalMs: 100 });
    proxy = await startSlowConnectProxy(plant.port, 1500);
    notify = await startFakeNotifySocket();
    dir = mkdtempSync(join(tmpdir(), 'vigil-reload-'));
  });
  afterAll(async () => {
    await notify?.close();
    await proxy?.close();
    await plant?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds and removes tags while another keeps flowing, refuses an invalid file with file:line in the log and /healthz, and keeps running', async () => {
    const tagFile = join(dir, 'tags.csv');
    writeFileSync(
      join(dir, 'agent.yaml'),
      ['agent: { id: reload-gw, dataDir: ./state }', 'http: { port: 0 }', 'sources:', `  - { name: plc1, type: opcua, endpoint: "${proxy.endpoint}", publishingIntervalMs: 100 }`, 'tagFiles: [tags.csv]'].join('\n') + '\n',
    );
    writeFileSync(tagFile, csv([`pump1.temperature,plc1,${node('Pump1.Temperature')}`, `pump2.temperature,plc1,${node('Pump2.Temperature')}`]));

    const agent = spawnVigil(['agent', '--config', join(dir, 'agent.yaml')], { NOTIFY_SOCKET: notify.address, WATCHDOG_USEC: '2000000' });
    try {
      const url = String((await agent.waitForLog('agent running')).http);
      const ready = await notify.waitFor('READY');
      expect(ready.fields.STATUS).toMatch(/sources connected/);
      const tags = async () => new Map(((await (await fetch(`${url}/tags`)).json()) as { tags: TagRow[] }).tags.map((t) => [t.tag, t]));
      await eventually(async () => ((await tags()).get('pump2.temperature')?.samples ?? 0) > 0 || undefined, 'both tags to be live');

      // Watch the unchanged tag through the whole reload: its count must only grow.
      const counts: number[] = [];
      let watching = true;
      const watcher = (async () => {
        while (watching) {
          counts.push((await tags()).get('pump1.temperature')?.samples ?? -1);
          await new Promise((r) => setTimeout(r, 100));
        }
      })();

      // Saved over: pump2.temperature removed, pump1.pressure added (same source, so plc1 is handed over to a new session).
      const reloadAt = Date.now();
      const before = notify.messages().length;
      writeFileSync(tagFile, csv([`pump1.temperature,plc1,${node('Pump1.Temperature')}`, `pump1.pressure,plc1,${node('Pump1.Pressure')}`]));
      const reloaded = await agent.waitForLog('configuration reloaded: sources ~plc1; tags +pump1.pressure -pump2.temperature');
      expect(String(reloaded.trigger)).toMatch(/^file changed: .*tags\.csv$/);
      const after = await eventually(async () => {
        const t = await tags();
        return (t.get('pump1.pressure')?.samples ?? 0) > 0 && !t.has('pump2.temperature') ? t : undefined;
      }, 'the added tag to be live and the removed one gone');
      expect(after.get('pump1.pressure')?.source).toBe('plc1');
      await agent.waitForLog('source plc1 handed over to its new session; values both sessions delivered were passed on once');
      await new Promise((r) => setTimeout(r, 500));
      watching = false;
      await watcher;
      expect(counts.length).toBeGreaterThan(10);
      for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]!);
      expect(counts.at(-1)!).toBeGreaterThan(counts[0]!);
      // systemd saw the reload: RELOADING=1 (with the monotonic clock), then READY=1.
      const reloadMessages = notify.messages().slice(before);
      const reloading = reloadMessages.findIndex((m) => m.fields.RELOADING === '1');
      expect(reloading).toBeGreaterThanOrEqual(0);
      expect(reloadMessages[reloading]!.fields.MONOTONIC_USEC).toMatch(/^\d+$/);
      expect(reloadMessages.slice(reloading).some((m) => m.fields.READY === '1')).toBe(true);

      // An invalid file: refused with file and line, the previous configuration keeps running.
      writeFileSync(tagFile, csv([`pump1.temperature,plc1,${node('Pump1.Temperature')}`, 'pump1.pressure,plc1,Pump1.Pressure']));
      const refused = await agent.waitForLog('VIGIL_CONFIG_INVALID: the changed configuration is not applied, the previous one keeps running: ' + `${tagFile}:3:3 tags[1].nodeId: ` + 'expected a nodeId with a namespace, e.g. nsu=urn:plant:pumps;s=Pump1.Temperature or ns=2;i=1042; found "Pump1.Pressure"').catch(async (err: Error) => {
        throw new Error(`${err.message}\n${agent.stdout().split('\n').filter((l) => l.includes('VIGIL_CONFIG_INVALID')).join('\n')}`);
      });
      expect(refused).toMatchObject({ code: 'VIGIL_CONFIG_INVALID', level: 50 });
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(503);
      const body = (await health.json()) as { reasons: string[]; config: { rejected: { issues: string[] } | null } };
      expect(body.reasons.some((r) => r.startsWith('VIGIL_CONFIG_INVALID') && r.includes(`${tagFile}:3:3`))).toBe(true);
      expect(body.config.rejected?.issues).toEqual([expect.stringContaining(`${tagFile}:3:3 tags[1].nodeId`)]);
      const stillRunning = await tags();
      const pressure = stillRunning.get('pump1.pressure')?.samples ?? 0;
      await eventually(async () => ((await tags()).get('pump1.pressure')?.samples ?? 0) > pressure || undefined, 'the running configuration to keep delivering');

      // SIGHUP (systemctl reload) with the file fixed: accepted, /healthz healthy again.
      writeFileSync(tagFile, csv([`pump1.temperature,plc1,${node('Pump1.Temperature')}`, `pump1.pressure,plc1,${node('Pump1.Pressure')}`]));
      agent.child.kill('SIGHUP');
      await eventually(async () => ((await fetch(`${url}/healthz`)).status === 200 ? true : undefined), '/healthz to be healthy again');
      await eventually(async () => (/"trigger":"SIGHUP".*"msg":"configuration reloaded: no source or tag changes"/.test(agent.stdout()) ? true : undefined), 'the SIGHUP reload in the log');

      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
      await notify.waitFor('STOPPING', 5000, before);
      // WATCHDOG_USEC=2 s: a ping a second while it ran.
      expect(notify.messages().filter((m) => m.fields.WATCHDOG === '1').length).toBeGreaterThanOrEqual(3);

      // In the raw history, the unchanged tag has no gap across the handover (a new connection takes 1.5 s through the proxy).
      const store = await openAgentStore({ dir: join(dir, 'state', 'store'), quotaBytes: 1e9, historyHours: 24, log: silentLogger() });
      try {
        const { ts } = store.history.read('pump1.temperature', reloadAt - 2000, reloadAt + 4000);
        const gaps = ts.slice(1).map((t, i) => t - ts[i]!);
        expect(ts.length).toBeGreaterThan(20);
        expect(Math.max(...gaps)).toBeLessThan(1000);
      } finally {
        await store.close();
      }
    } finally {
      agent.child.kill('SIGKILL');
    }
  }, 60_000);
});
