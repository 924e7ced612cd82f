import type { Sample } from '../../shared/sample.js';
import type { SampleSink } from '../sources/source.js';

/**
 * The sink of one source slot. Normally it passes samples straight on. While
 * an OPC UA source is replaced (a reload that changed it), the old and the new
 * session both run for a moment — so the tags that did not change flow
 * without a gap — and both deliver the same values: a new subscription starts
 * with the current value of every node, which the old one already delivered.
 * During that handover a sample is passed on only when it is newer (by source
 * timestamp) than the newest already passed on for its tag; the rest are
 * duplicates, counted in `duplicates`, not data.
 */
export class HandoverSink implements SampleSink {
  private newest: Map<string, number> | undefined;
  private seed: (tag: string) => number | undefined = () => undefined;
  /** Samples skipped as duplicates during handovers, since the start. */
  duplicates = 0;

  constructor(private readonly target: SampleSink) {}

  /**
   * Starts deduplicating. `seed` tells the newest timestamp already delivered
   * for a tag before now (the tag table, after the pipeline was flushed).
   */
  beginHandover(seed: (tag: string) => number | undefined): void {
    this.newest = new Map();
    this.seed = seed;
  }

  endHandover(): void {
    this.newest = undefined;
    this.seed = () => undefined;
  }

  push(sample: Sample): boolean {
    const newest = this.newest;
    if (newest === undefined) return this.target.push(sample);
    const last = newest.get(sample.tag) ?? this.seed(sample.tag);
    if (last !== undefined && sample.ts <= last) {
      this.duplicates++;
      // Not emitted: the source does not count it as a sample.
      return false;
    }
    newest.set(sample.tag, sample.ts);
    return this.target.push(sample);
  }
}
