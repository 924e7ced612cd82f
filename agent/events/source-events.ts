import type { AgentEvent } from '../../shared/episode.js';
import type { Source } from '../sources/source.js';

/**
 * Turns source health into events for the outbox: one `source_disconnected`
 * when a source that was connected loses its server or broker, one
 * `source_connected` when it comes back (with how long it was away). Polling
 * health keeps the sources free of any knowledge of the store.
 */
export class SourceEventWatcher {
  private readonly connected = new Map<string, { connected: boolean; since: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly agentId: string,
    private readonly sources: () => readonly Source[],
    private readonly emit: (event: AgentEvent) => void,
    private readonly now: () => number = Date.now,
  ) {}

  start(intervalMs = 1000): void {
    this.check();
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Compares each source's state with the last one seen; exported for tests. */
  check(): void {
    for (const source of this.sources()) {
      const health = source.health();
      const before = this.connected.get(source.name);
      const now = this.now();
      if (!before) {
        this.connected.set(source.name, { connected: health.connected, since: now });
        continue;
      }
      if (before.connected === health.connected) continue;
      this.connected.set(source.name, { connected: health.connected, since: now });
      if (health.connected) {
        this.emit({
          kind: 'source_connected',
          at: now,
          agent: this.agentId,
          subject: source.name,
          message: `source ${source.name} (${source.type}) is connected again after ${Math.round((now - before.since) / 1000)} s`,
          details: { type: source.type, downMs: now - before.since },
        });
      } else {
        this.emit({
          kind: 'source_disconnected',
          at: now,
          agent: this.agentId,
          subject: source.name,
          message: `source ${source.name} (${source.type}) lost its connection: ${health.state}${health.lastError ? ` — ${health.lastError}` : ''}`,
          details: { type: source.type, state: health.state, ...(health.lastError ? { lastError: health.lastError } : {}) },
        });
      }
    }
  }
}
