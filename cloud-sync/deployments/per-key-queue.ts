/**
 * Runs tasks one at a time per key, in call order. The deployer reads a
 * deployment's targets, decides (open the next wave, complete, roll back) and
 * writes; hundreds of agents answering at once would otherwise interleave
 * those steps and, say, send the second wave twice.
 */
export class PerKeyQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** `around` wraps every task (e.g. in a lock other processes respect too). */
  constructor(private readonly around?: <T>(key: string, task: () => Promise<T>) => Promise<T>) {}

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const around = this.around;
    const wrapped = around ? () => around(key, task) : task;
    const result = previous.then(wrapped, wrapped);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Resolves when every task queued so far has settled. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all(this.tails.values());
  }
}
