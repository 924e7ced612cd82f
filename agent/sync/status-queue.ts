import type { ModelStatus } from '../../shared/sync-protocol.js';

/** Model statuses kept while the hub is away; beyond this the oldest model@version is forgotten. */
const DEFAULT_LIMIT = 200;

/**
 * Model statuses produced while the link is down, sent after the next
 * welcome. Only the latest status per model@version is kept — the hub wants
 * where each deployment stands, not the path — and at most `limit` of them.
 */
export class StatusQueue {
  private readonly waiting = new Map<string, ModelStatus>();

  constructor(private readonly limit = DEFAULT_LIMIT) {}

  add(status: ModelStatus): void {
    const key = `${status.model}@${status.version}`;
    // A status put back after a failed send must not replace a newer one.
    const existing = this.waiting.get(key);
    if (existing && existing.at > status.at) return;
    this.waiting.delete(key);
    this.waiting.set(key, status);
    if (this.waiting.size > this.limit) this.waiting.delete(this.waiting.keys().next().value!);
  }

  /** Everything waiting, oldest first; the queue is empty afterwards. */
  take(): ModelStatus[] {
    const out = [...this.waiting.values()];
    this.waiting.clear();
    return out;
  }

  get size(): number {
    return this.waiting.size;
  }
}
