/** A hub silent for this many heartbeat intervals is treated as gone (a NAT or firewall dropped the link without a word). */
const SILENT_INTERVALS = 3;

export interface HeartbeatHooks {
  /** Sends one heartbeat. */
  beat: () => void;
  /** Milliseconds since the hub last sent anything. */
  silentFor: () => number;
  /** The hub has been silent too long: end the connection. */
  gone: (silentMs: number) => void;
}

/**
 * Heartbeats and the silence watchdog of one connection. The watchdog runs
 * from the open, so a hub that never welcomes is given up on too; the hub
 * answers every heartbeat, so a working link is never silent for long.
 */
export class Heartbeats {
  private timer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(
    private intervalMs: number,
    private readonly hooks: HeartbeatHooks,
  ) {}

  watch(): void {
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => {
      const silent = this.hooks.silentFor();
      if (silent > SILENT_INTERVALS * this.intervalMs) this.hooks.gone(silent);
    }, this.intervalMs);
    this.watchdog.unref();
  }

  /** After the welcome: one heartbeat now (the hub sees the health at once), then every interval. */
  start(intervalMs: number): void {
    this.intervalMs = intervalMs;
    this.watch();
    this.hooks.beat();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.hooks.beat(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    clearInterval(this.watchdog);
  }
}
