/**
 * What a benchmark run must undo (processes, the throwaway database, temp
 * folders), run last-in first-out, each step on its own: one that fails does
 * not leave the others undone. Runs on normal exit, on failure and on
 * SIGINT / SIGTERM.
 */
export class Teardown {
  private readonly steps: Array<{ what: string; run: () => Promise<void> | void }> = [];
  private running: Promise<void> | undefined;

  add(what: string, run: () => Promise<void> | void): void {
    this.steps.push({ what, run });
  }

  run(): Promise<void> {
    return (this.running ??= (async () => {
      for (const step of this.steps.reverse()) {
        try {
          await step.run();
        } catch (err) {
          console.error(`teardown: ${step.what} failed: ${(err as Error).message}`);
        }
      }
    })());
  }

  /** On SIGINT / SIGTERM: undo everything, then exit 130. */
  onSignals(): void {
    const handler = () => void this.run().finally(() => process.exit(130));
    process.once('SIGINT', handler);
    process.once('SIGTERM', handler);
  }
}
