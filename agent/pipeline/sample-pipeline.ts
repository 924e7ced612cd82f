import type { Sample } from '../../shared/sample.js';
import type { SampleSink } from '../sources/source.js';

export type SampleConsumer = (batch: readonly Sample[]) => void;

export interface PipelineCounters {
  received: number;
  emitted: number;
  /** Samples refused because the pipeline was full. */
  droppedOverflow: number;
  /** Samples a consumer threw on (the consumer is isolated, the batch goes on). */
  consumerErrors: number;
  /** Samples waiting right now. */
  depth: number;
  capacity: number;
}

/**
 * The one bounded hand-off between sources and everything downstream. Sources
 * push synchronously and never wait; consumers get batches on a later turn of
 * the event loop. When the ring is full a new sample is refused and counted —
 * never dropped silently and never blocking a source's socket handler.
 */
export class SamplePipeline implements SampleSink {
  private readonly ring: Array<Sample | undefined>;
  private head = 0;
  private size = 0;
  private scheduled = false;
  private readonly consumers: SampleConsumer[] = [];
  private readonly counters = { received: 0, emitted: 0, droppedOverflow: 0, consumerErrors: 0 };
  private onOverflow: ((dropped: number) => void) | undefined;

  constructor(
    readonly capacity: number,
    private readonly maxBatch = 4096,
  ) {
    this.ring = new Array<Sample | undefined>(capacity);
  }

  /** Registers a consumer; each sees every batch in order. */
  subscribe(consumer: SampleConsumer): void {
    this.consumers.push(consumer);
  }

  /** Called (at most once per drain turn) when samples were refused, so the agent can log at a limited rate. */
  setOverflowListener(listener: (dropped: number) => void): void {
    this.onOverflow = listener;
  }

  push(sample: Sample): boolean {
    this.counters.received++;
    if (this.size >= this.capacity) {
      this.counters.droppedOverflow++;
      this.schedule();
      return false;
    }
    this.ring[(this.head + this.size) % this.capacity] = sample;
    this.size++;
    this.schedule();
    return true;
  }

  snapshot(): PipelineCounters {
    return { ...this.counters, depth: this.size, capacity: this.capacity };
  }

  /** Delivers everything queued now; used on shutdown so nothing accepted is lost. */
  flush(): void {
    while (this.size > 0) this.drainBatch();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.drain);
  }

  private lastReportedOverflow = 0;

  private readonly drain = (): void => {
    this.scheduled = false;
    // Deliver everything queued when the turn starts: one socket read can bring
    // tens of thousands of samples, and draining less than arrives per turn
    // would fill the ring and drop. The capacity bounds the work per turn.
    let batches = Math.ceil(this.size / this.maxBatch);
    while (this.size > 0 && batches-- > 0) this.drainBatch();
    if (this.counters.droppedOverflow !== this.lastReportedOverflow) {
      const dropped = this.counters.droppedOverflow - this.lastReportedOverflow;
      this.lastReportedOverflow = this.counters.droppedOverflow;
      this.onOverflow?.(dropped);
    }
    if (this.size > 0) this.schedule();
  };

  private drainBatch(): void {
    const n = Math.min(this.size, this.maxBatch);
    const batch: Sample[] = new Array<Sample>(n);
    for (let i = 0; i < n; i++) {
      const index = (this.head + i) % this.capacity;
      batch[i] = this.ring[index] as Sample;
      this.ring[index] = undefined;
    }
    this.head = (this.head + n) % this.capacity;
    this.size -= n;
    for (const consumer of this.consumers) {
      try {
        consumer(batch);
      } catch {
        this.counters.consumerErrors += n;
      }
    }
    this.counters.emitted += n;
  }
}
