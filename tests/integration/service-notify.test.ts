import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnVigil } from '../helpers/agent-process.js';
import { startFakeNotifySocket, type FakeNotifySocket } from '../helpers/fake-notify-socket.js';

/** `vigil hub` as a Type=notify service: READY once serving, watchdog pings, SIGHUP survived, STOPPING on SIGTERM. */
describe('vigil hub under systemd (fake NOTIFY_SOCKET)', () => {
  let notify: FakeNotifySocket;
  let dir: string;
  beforeAll(async () => {
    notify = await startFakeNotifySocket();
    dir = mkdtempSync(join(tmpdir(), 'vigil-hub-notify-'));
  });
  afterAll(async () => {
    await notify?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('notifies READY after it serves, pings the watchdog, ignores SIGHUP with a warning, sends STOPPING and exits 0', async () => {
    writeFileSync(join(dir, 'hub.yaml'), 'hub: { id: notify-hub, dataDir: ./data }\nhttp: { host: 127.0.0.1, port: 0 }\n');
    const hub = spawnVigil(['hub', '--config', join(dir, 'hub.yaml')], { NOTIFY_SOCKET: notify.address, WATCHDOG_USEC: '400000' });
    try {
      const running = await hub.waitForLog('hub running');
      const ready = await notify.waitFor('READY');
      // READY only once the port answers.
      expect(ready.fields.STATUS).toBe(`serving ${String(running.url)}`);
      expect((await fetch(`${String(running.url)}/metrics`)).status).toBe(200);
      const readyAt = notify.messages().indexOf(ready);
      await notify.waitFor('WATCHDOG', 5000, readyAt + 1);

      hub.child.kill('SIGHUP');
      await hub.waitForLog('SIGHUP: the hub does not reload hub.yaml; restart it to apply changes (systemctl restart vigil-hub)');
      expect((await fetch(`${String(running.url)}/metrics`)).status).toBe(200);

      hub.child.kill('SIGTERM');
      expect(await hub.exited).toBe(0);
      const stopping = await notify.waitFor('STOPPING', 5000, readyAt + 1);
      expect(stopping.fields.STATUS).toBe('stopping');
      // 'exit' may come before the last output is read.
      if (!hub.child.stdout.closed) await once(hub.child.stdout, 'close');
      expect(hub.stdout()).toContain('"msg":"hub stopped"');
    } finally {
      hub.child.kill('SIGKILL');
    }
  }, 30_000);
});
