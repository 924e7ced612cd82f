/**
 * Runs one connection's messages strictly one after another, in arrival order
 * (a batch is stored and acked before the next message is looked at), and
 * tells how many wait, so the connection can stop reading when too many do.
 *
 * The handler sees every waiting item — its turn first — and says how many it
 * handled (at least one): a run of batches of one stream can be stored
 * together. Items count as waiting until their handler is done.
 */
export class SerialQueue<T> {
  private readonly items: T[] = [];
  private running = false;

  constructor(
    private readonly handle: (waiting: readonly T[]) => Promise<number>,
    private readonly onDrained: () => void,
    /** Handlers handle their own errors; one reaching here is a bug, reported so later messages still run. */
    private readonly onBug: (err: unknown) => void,
  ) {}

  push(item: T): void {
    this.items.push(item);
    if (this.running) return;
    this.running = true;
    queueMicrotask(() => void this.run());
  }

  get size(): number {
    return this.items.length;
  }

  private async run(): Promise<void> {
    while (this.items.length > 0) {
      let handled = 1;
      try {
        // A copy: items pushed meanwhile are not the handler's to take.
        handled = await this.handle(this.items.slice());
      } catch (err) {
        this.onBug(err);
      }
      this.items.splice(0, Math.max(1, handled));
    }
    this.running = false;
    this.onDrained();
  }
}
