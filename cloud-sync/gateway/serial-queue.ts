/**
 * Runs one connection's messages strictly one after another, in arrival order
 * (a batch is stored and acked before the next one is looked at), and tells
 * how many wait, so the connection can stop reading when too many do.
 */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;

  constructor(
    private readonly onDrained: () => void,
    /** Tasks handle their own errors; one reaching here is a bug, reported so later messages still run. */
    private readonly onBug: (err: unknown) => void,
  ) {}

  push(task: () => Promise<void>): void {
    this.waiting++;
    this.tail = this.tail
      .then(task)
      .catch(this.onBug)
      .finally(() => {
        this.waiting--;
        if (this.waiting === 0) this.onDrained();
      });
  }

  get size(): number {
    return this.waiting;
  }
}
