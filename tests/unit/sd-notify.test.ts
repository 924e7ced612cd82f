import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createServiceNotifier, monotonicUsec, watchdogIntervalMs, type ServiceNotifier } from '../../agent/service/sd-notify.js';
import { createLogger, silentLogger } from '../../shared/logger.js';
import { startFakeNotifySocket, type FakeNotifySocket } from '../helpers/fake-notify-socket.js';

let socket: FakeNotifySocket | undefined;
let notifier: ServiceNotifier | undefined;
afterEach(async () => {
  await notifier?.close();
  await socket?.close();
  notifier = undefined;
  socket = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('watchdogIntervalMs', () => {
  it('is half of WATCHDOG_USEC, only for this process, and absent without a watchdog', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 42)).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42)).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '43' }, 42)).toBeUndefined();
    expect(watchdogIntervalMs({}, 42)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '0' }, 42)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: 'soon' }, 42)).toBeUndefined();
  });
});

describe('service notifier against a unix datagram socket', () => {
  it('does nothing outside systemd (no NOTIFY_SOCKET)', async () => {
    notifier = createServiceNotifier({ log: silentLogger(), env: { WATCHDOG_USEC: '1000000' } });
    expect(notifier.enabled).toBe(false);
    await notifier.ready('up');
  });

  it('sends READY, STATUS, RELOADING with the monotonic clock, and STOPPING, in order', async () => {
    socket = await startFakeNotifySocket();
    notifier = createServiceNotifier({ log: silentLogger(), env: { NOTIFY_SOCKET: socket.address } });
    expect(notifier.enabled).toBe(true);
    expect(notifier.watchdogMs).toBeUndefined();

    await notifier.ready('2/2 sources connected');
    await notifier.status('2/2 sources connected');
    await notifier.status('1/2 sources connected');
    const before = monotonicUsec();
    await notifier.reloading('reloading the configuration');
    await notifier.ready('configuration applied');
    await notifier.stopping('stopping');

    const texts = socket.messages().map((m) => m.text);
    // The unchanged status is not sent twice.
    expect(texts).toEqual([
      'READY=1\nSTATUS=2/2 sources connected',
      'STATUS=1/2 sources connected',
      expect.stringMatching(/^RELOADING=1\nMONOTONIC_USEC=\d+\nSTATUS=reloading the configuration$/),
      'READY=1\nSTATUS=configuration applied',
      'STOPPING=1\nSTATUS=stopping',
    ]);
    const reloading = socket.messages()[2]!;
    const stamped = BigInt(reloading.fields.MONOTONIC_USEC!);
    // The same clock as the receiver's CLOCK_MONOTONIC: stamped between our read before and the receipt.
    expect(stamped >= before).toBe(true);
    expect(stamped <= BigInt(reloading.receivedUsec)).toBe(true);
  });

  it('reaches an abstract socket (@name)', async () => {
    socket = await startFakeNotifySocket({ abstract: true });
    notifier = createServiceNotifier({ log: silentLogger(), env: { NOTIFY_SOCKET: socket.address } });
    await notifier.ready('up');
    expect(socket.messages().map((m) => m.fields.READY)).toEqual(['1']);
  });

  it('pings the watchdog every WATCHDOG_USEC/2 while the event loop turns, never while it is blocked, and stops on close', async () => {
    socket = await startFakeNotifySocket();
    notifier = createServiceNotifier({ log: silentLogger(), env: { NOTIFY_SOCKET: socket.address, WATCHDOG_USEC: '200000' } });
    expect(notifier.watchdogMs).toBe(100);
    let status = 'starting';
    notifier.startHeartbeat(() => status);
    await sleep(450);
    status = 'running';
    await sleep(300);

    const blockedFrom = monotonicUsec();
    const until = Date.now() + 600;
    while (Date.now() < until) {
      // A stuck event loop: no timer runs, so no ping may leave.
    }
    const blockedTo = monotonicUsec();
    await sleep(350);
    await notifier.close();
    const afterClose = socket.messages().length;
    await sleep(300);

    const pings = socket.messages().filter((m) => m.fields.WATCHDOG === '1');
    expect(pings.length).toBeGreaterThanOrEqual(6);
    // Sends are asynchronous: a ping started before the block may land just inside it, none later.
    const duringBlock = pings.filter((p) => BigInt(p.receivedUsec) > blockedFrom + 50_000n && BigInt(p.receivedUsec) < blockedTo);
    expect(duringBlock).toEqual([]);
    expect(pings.some((p) => BigInt(p.receivedUsec) > blockedTo)).toBe(true);
    // STATUS rides along only when it changed.
    expect(socket.messages().flatMap((m) => (m.fields.STATUS ? [m.fields.STATUS] : []))).toEqual(['starting', 'running']);
    expect(socket.messages().length).toBe(afterClose);
  });

  it('without a watchdog sends STATUS changes only, at the status interval', async () => {
    socket = await startFakeNotifySocket();
    notifier = createServiceNotifier({ log: silentLogger(), env: { NOTIFY_SOCKET: socket.address } });
    let status = 'a';
    notifier.startHeartbeat(() => status, 50);
    await sleep(200);
    status = 'b';
    await sleep(200);
    await notifier.close();
    expect(socket.messages().map((m) => m.text)).toEqual(['STATUS=a', 'STATUS=b']);
  });

  it('logs a missing systemd-notify once and never throws', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) });
    notifier = createServiceNotifier({ log: createLogger({ level: 'info' }, sink), env: { NOTIFY_SOCKET: '/nonexistent/notify' }, command: 'no-such-systemd-notify' });
    await notifier.ready('up');
    await notifier.status('still up');
    const errors = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toMatch(/could not notify systemd \(READY, STATUS\): no-such-systemd-notify was not found/);
  });
});
