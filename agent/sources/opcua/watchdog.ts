/**
 * Detects "connected but silent" subscriptions: a healthy subscription delivers
 * either data or a keep-alive at least every publishingInterval × keepAliveCount.
 * When one has delivered neither for `staleTimeoutMs`, `onStale` is called once
 * and the watchdog stops; the source then rebuilds the session. Without it a
 * half-open TCP link (a switch that drops packets, a frozen server) can hide a
 * data gap for as long as the OS keeps the socket.
 */
export class SubscriptionWatchdog {
  private readonly lastSeen = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly staleTimeoutMs: number,
    private readonly onStale: (subscriptionKey: number, silentForMs: number) => void,
    // Monotonic: a gateway clock stepped forward must not make every subscription look silent.
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Starts watching a subscription; it counts as alive from now. */
  watch(key: number): void {
    this.lastSeen.set(key, this.now());
    if (!this.timer) {
      this.timer = setInterval(() => this.check(), Math.max(50, Math.floor(this.staleTimeoutMs / 4)));
      this.timer.unref();
    }
  }

  /** Data or keep-alive arrived on this subscription. Cheap: one Map write. */
  alive(key: number): void {
    if (this.lastSeen.has(key)) this.lastSeen.set(key, this.now());
  }

  check(): void {
    const now = this.now();
    for (const [key, seen] of this.lastSeen) {
      if (now - seen > this.staleTimeoutMs) {
        this.stop();
        this.onStale(key, now - seen);
        return;
      }
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.lastSeen.clear();
  }
}
