import type { PerKeyQueue } from './per-key-queue.js';

/**
 * Gathers items for a key while that key's earlier work runs, then hands them
 * to `handle` together, in arrival order, on the key's queue. Five hundred
 * agents answering one deployment at once then cost a few storage commits
 * (each an fsync) instead of five hundred in a row. Each `add` resolves when
 * its batch has been handled.
 */
export class PerKeyBatches<T> {
  private readonly gathering = new Map<string, { items: T[]; done: Promise<void> }>();

  constructor(
    private readonly queue: PerKeyQueue,
    private readonly handle: (key: string, items: T[]) => Promise<void>,
  ) {}

  add(key: string, item: T): Promise<void> {
    let batch = this.gathering.get(key);
    if (!batch) {
      const items: T[] = [];
      // The queue starts a task no sooner than the next microtask, so the batch is registered before it closes.
      const done = this.queue.run(key, () => {
        this.gathering.delete(key);
        return this.handle(key, items);
      });
      batch = { items, done };
      this.gathering.set(key, batch);
    }
    batch.items.push(item);
    return batch.done;
  }
}
