import type { AgentEvent } from '../../shared/episode.js';

/** Cumulative drop counters, flattened to `where/reason` keys (e.g. `source:broker/malformed_json`). */
export type DropCounts = Record<string, number>;

/**
 * Reports what was dropped since the last report as one `samples_dropped`
 * event — malformed payloads, late samples, pipeline overflow — so the hub
 * learns about gaps in the data without one event per dropped sample. Quiet
 * when nothing was dropped.
 */
export class DropReporter {
  private last: DropCounts;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly agentId: string,
    private readonly read: () => DropCounts,
    private readonly emit: (event: AgentEvent) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.last = { ...read() };
  }

  start(intervalMs = 60_000): void {
    this.timer = setInterval(() => this.report(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Emits the drops since the last call, if any; exported for tests and shutdown. */
  report(): void {
    const current = this.read();
    const delta: DropCounts = {};
    let total = 0;
    for (const [key, value] of Object.entries(current)) {
      const d = value - (this.last[key] ?? 0);
      if (d > 0) {
        delta[key] = d;
        total += d;
      }
    }
    this.last = { ...current };
    if (total === 0) return;
    const parts = Object.entries(delta)
      .sort((a, b) => b[1] - a[1])
      .map(([key, n]) => `${n} ${key}`);
    this.emit({ kind: 'samples_dropped', at: this.now(), agent: this.agentId, message: `${total} samples dropped: ${parts.join(', ')}`, details: { total, byReason: delta } });
  }
}
