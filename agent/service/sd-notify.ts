import { execFile } from 'node:child_process';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';

/**
 * systemd's notify protocol (sd_notify(3)) for `Type=notify` units: READY=1
 * once the service is up, WATCHDOG=1 pings, STATUS=… lines for `systemctl
 * status`, RELOADING=1 / STOPPING=1 around a reload and at shutdown.
 *
 * How the datagrams are sent, and why this way. The protocol is one AF_UNIX
 * SOCK_DGRAM datagram to the path (or abstract name, `@…`) in NOTIFY_SOCKET,
 * and Node's core has no unix datagram sockets. The options weighed:
 * - npm `sd-notify` and `unix-dgram`: native addons compiled by node-gyp at
 *   install time, which needs a compiler and Node's headers on the gateway
 *   (or a download of them) — the install step most likely to fail at a plant.
 * - npm `node-unix-socket`: prebuilt N-API binaries, but one more native
 *   dependency per platform for a few bytes every 15 s, and it cannot send to
 *   abstract sockets.
 * - a long-lived helper (python3, socat): not installed on minimal systems.
 * - `systemd-notify` (this module): shipped in the systemd package itself, so
 *   it exists wherever NOTIFY_SOCKET does; speaks every socket form systemd
 *   uses; and since systemd 246 it waits (sd_notify_barrier) until PID 1 has
 *   read the message, so a message from this short-lived child is attributed
 *   to the unit even though the child exits at once. The unit needs
 *   `NotifyAccess=all` because the sender is the child, not the main PID.
 *   One process per message costs ~5 ms; the busiest message, WATCHDOG=1,
 *   goes every WatchdogSec/2 (15 s with WatchdogSec=30).
 * Messages are sent one at a time, in order; a ping never queues behind a
 * stuck send (systemd-notify gives up on its barrier after 5 s, and is killed
 * here after 10 s).
 */
export interface ServiceNotifier {
  /** False when not started by systemd with Type=notify (no NOTIFY_SOCKET): every call does nothing. */
  readonly enabled: boolean;
  /** Milliseconds between watchdog pings, when systemd asked for them (WatchdogSec=). */
  readonly watchdogMs: number | undefined;
  /** READY=1: startup is complete (and, after a reload, the new configuration is applied). */
  ready(status: string): Promise<void>;
  status(text: string): Promise<void>;
  /** RELOADING=1 with the monotonic time systemd ≥ 253 expects; READY=1 ends the reload. */
  reloading(status: string): Promise<void>;
  /** STOPPING=1: shutdown has begun; systemd then waits up to TimeoutStopSec=. */
  stopping(status: string): Promise<void>;
  /**
   * Pings the watchdog every `watchdogMs` (when systemd asked) and refreshes
   * STATUS= when `status()` changes. The timer runs on the main event loop, so
   * a blocked loop sends nothing and systemd restarts the service: that is the
   * point of the watchdog.
   */
  startHeartbeat(status: () => string, statusEveryMs?: number): void;
  /** Stops the heartbeat and waits for messages already handed over. */
  close(): Promise<void>;
}

export interface NotifierOptions {
  log: Logger;
  /** Where NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are read. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The systemd-notify executable. Default `systemd-notify` from PATH. */
  command?: string;
  /** This process's pid, compared with WATCHDOG_PID. Default process.pid. */
  pid?: number;
}

/** STATUS= is one line; systemd shows it in `systemctl status`. */
const MAX_STATUS_CHARS = 200;
const SEND_TIMEOUT_MS = 10_000;
/** Messages waiting behind a slow send; pings beyond this are skipped (the next one comes soon). */
const MAX_QUEUED = 4;

/**
 * The watchdog interval systemd asks for: half of WATCHDOG_USEC, as
 * sd_watchdog_enabled(3) recommends; undefined when no watchdog is set or it
 * is meant for another process (WATCHDOG_PID).
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

/** CLOCK_MONOTONIC in microseconds: libuv's hrtime reads that clock on Linux, as systemd does. */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

export function createServiceNotifier(options: NotifierOptions): ServiceNotifier {
  const env = options.env ?? process.env;
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return disabledNotifier;
  return new SystemdNotifier(socket, options);
}

const disabledNotifier: ServiceNotifier = {
  enabled: false,
  watchdogMs: undefined,
  ready: async () => {},
  status: async () => {},
  reloading: async () => {},
  stopping: async () => {},
  startHeartbeat: () => {},
  close: async () => {},
};

class SystemdNotifier implements ServiceNotifier {
  readonly enabled = true;
  readonly watchdogMs: number | undefined;
  private readonly command: string;
  private readonly log: Logger;
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private lastStatus = '';
  private lastFailure = '';

  constructor(
    private readonly socket: string,
    options: NotifierOptions,
  ) {
    this.log = options.log;
    this.command = options.command ?? 'systemd-notify';
    this.watchdogMs = watchdogIntervalMs(options.env ?? process.env, options.pid ?? process.pid);
  }

  ready(status: string): Promise<void> {
    return this.send(['READY=1', ...this.statusLine(status)]);
  }

  status(text: string): Promise<void> {
    const line = this.statusLine(text);
    return line.length > 0 ? this.send(line) : Promise.resolve();
  }

  reloading(status: string): Promise<void> {
    return this.send(['RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`, ...this.statusLine(status)]);
  }

  stopping(status: string): Promise<void> {
    this.stopHeartbeat();
    return this.send(['STOPPING=1', ...this.statusLine(status)]);
  }

  startHeartbeat(status: () => string, statusEveryMs = 15_000): void {
    this.stopHeartbeat();
    const every = this.watchdogMs ?? statusEveryMs;
    this.heartbeat = setInterval(() => {
      const message = [...(this.watchdogMs ? ['WATCHDOG=1'] : []), ...this.statusLine(status())];
      if (message.length > 0 && this.queued < MAX_QUEUED) void this.send(message);
    }, every);
    // The heartbeat never keeps a finished process alive.
    this.heartbeat.unref();
  }

  async close(): Promise<void> {
    this.stopHeartbeat();
    await this.chain;
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** `STATUS=…` when the text changed since the last one sent, else nothing. */
  private statusLine(text: string): string[] {
    const line = text.replace(/\s+/g, ' ').trim().slice(0, MAX_STATUS_CHARS);
    if (line === this.lastStatus) return [];
    this.lastStatus = line;
    return [`STATUS=${line}`];
  }

  private send(assignments: string[]): Promise<void> {
    this.queued += 1;
    const sent = this.chain.then(() => this.exec(assignments)).finally(() => (this.queued -= 1));
    this.chain = sent;
    return sent;
  }

  private exec(assignments: string[]): Promise<void> {
    return new Promise((resolve) => {
      execFile(this.command, assignments, { env: { ...process.env, NOTIFY_SOCKET: this.socket }, timeout: SEND_TIMEOUT_MS, killSignal: 'SIGKILL' }, (err, _stdout, stderr) => {
        if (err) this.failed(assignments, err, stderr);
        resolve();
      });
    });
  }

  /** Logged once per distinct failure: a broken notify path must be visible, but not every 15 s. */
  private failed(assignments: string[], err: Error & { code?: unknown }, stderr: string): void {
    const reason =
      err.code === 'ENOENT'
        ? `${this.command} was not found; install systemd's systemd-notify or run without Type=notify`
        : `${this.command} failed: ${stderr.trim() || describeError(err)}`;
    if (reason === this.lastFailure) return;
    this.lastFailure = reason;
    const what = assignments.map((a) => a.split('=')[0]).join(', ');
    this.log.error({ notifySocket: this.socket, message: what }, `could not notify systemd (${what}): ${reason}; with Type=notify systemd may consider the service failed`);
  }
}
