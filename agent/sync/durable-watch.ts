import { OUTBOX_STREAMS, type Outbox, type OutboxStream } from '../store/outbox.js';

/** Longest pause between two looks while a commit is not yet durable, ms. */
const MAX_POLL_MS = 64;

/**
 * Calls `onDurable` soon after newly appended outbox records become durable —
 * the moment `pending` starts returning them.
 *
 * The outbox tells its listeners when a transaction is *committed*; `pending`
 * only returns records once the commit is *flushed* (see when-durable.ts),
 * a few milliseconds later, and there is no event for that. So after each
 * commit this looks again at 1, 2, 4 … 64 ms until every stream's durable seq
 * has reached what that commit numbered. The looks are in-memory reads; when
 * no records arrive, nothing runs.
 */
export class DurableWatch {
  /** Per stream still waiting: the seq the last commit numbered, and the durable seq last seen. */
  private readonly targets = new Map<OutboxStream, { committed: number; seen: number }>();
  private timer: NodeJS.Timeout | undefined;
  private delay = 1;
  private stopped = false;

  constructor(
    private readonly outbox: Pick<Outbox, 'onCommitted' | 'lastDurable' | 'stats'>,
    private readonly onDurable: () => void,
  ) {
    outbox.onCommitted(() => this.committed());
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private committed(): void {
    if (this.stopped) return;
    // Called before the next batch is numbered: `next - 1` is what this commit holds.
    const stats = this.outbox.stats();
    for (const stream of OUTBOX_STREAMS) {
      const committed = stats[stream].next - 1;
      if (committed > stats[stream].durable) this.targets.set(stream, { committed, seen: stats[stream].durable });
    }
    this.onDurable();
    if (this.targets.size > 0 && this.timer === undefined) {
      this.delay = 1;
      this.schedule();
    }
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      let advanced = false;
      for (const [stream, target] of this.targets) {
        const durable = this.outbox.lastDurable(stream);
        if (durable > target.seen) advanced = true;
        target.seen = durable;
        if (durable >= target.committed) this.targets.delete(stream);
      }
      if (advanced) this.onDurable();
      if (this.targets.size === 0) return;
      this.delay = advanced ? 1 : Math.min(this.delay * 2, MAX_POLL_MS);
      this.schedule();
    }, this.delay);
    this.timer.unref();
  }
}
