import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { emptyCounters, type SampleSink, type Source, type SourceCounters, type SourceHealth } from '../sources/source.js';
import { HandoverSink } from './handover-sink.js';

/** Builds the Source for a slot; it must deliver into `sink`. */
export type SourceFactory = (sink: SampleSink) => Source;

export interface ReplaceOptions {
  /**
   * Run the new instance beside the old one until it is connected, then stop
   * the old one (OPC UA: two sessions are allowed, so the unchanged tags keep
   * flowing). Without it the old one stops first (MQTT: one client id can
   * have one connection; the broker queues QoS 1 messages for the persistent
   * session meanwhile).
   */
  overlap: boolean;
  /** Longest wait for the new instance to connect before the old one is stopped anyway. */
  connectWaitMs: number;
  /** How long duplicates are still filtered after the old instance stopped (values in flight). */
  settleMs: number;
  /** Newest timestamp already delivered for a tag (the tag table, after a pipeline flush). */
  newestTs: (tag: string) => number | undefined;
}

/** While a replaced source reconnects, /healthz shows the last state of the old one for at most this long. */
const HOLD_HEALTH_MS = 10_000;

/**
 * One named source of the agent, whose implementation a configuration reload
 * can replace without the rest of the agent noticing: the source list,
 * /healthz, /metrics and the hub see one source whose counters keep counting
 * across replacements (counters of retired instances are added), not a source
 * that vanished and a new one at zero.
 */
export class SourceSlot implements Source {
  readonly name: string;
  private current: Source;
  private readonly sink: HandoverSink;
  private retired: SourceCounters = emptyCounters();
  private retiredTopicDrops = new Map<string, Record<string, number>>();
  private held: { health: SourceHealth; until: number } | undefined;
  private signal: AbortSignal | undefined;
  private settleTimer: NodeJS.Timeout | undefined;

  constructor(
    name: string,
    build: SourceFactory,
    target: SampleSink,
    private readonly log: Logger,
  ) {
    this.name = name;
    this.sink = new HandoverSink(target);
    this.current = build(this.sink);
  }

  get type(): 'opcua' | 'mqtt' {
    return this.current.type;
  }

  start(signal?: AbortSignal): Promise<void> {
    this.signal = signal;
    return this.current.start(signal);
  }

  async stop(): Promise<void> {
    clearTimeout(this.settleTimer);
    this.sink.endHandover();
    await this.current.stop();
  }

  health(): SourceHealth {
    const health = this.current.health();
    if (this.held && !health.connected && Date.now() < this.held.until) return this.held.health;
    this.held = undefined;
    return health;
  }

  counters(): SourceCounters {
    return addCounters(this.retired, this.current.counters());
  }

  /** MQTT drops per topic, for /metrics (empty for OPC UA). */
  droppedByTopic(): Map<string, Record<string, number>> {
    const merged = new Map<string, Record<string, number>>();
    const add = (from: Map<string, Record<string, number>>) => {
      for (const [topic, reasons] of from) merged.set(topic, addRecords(merged.get(topic) ?? {}, reasons));
    };
    add(this.retiredTopicDrops);
    if (hasTopicDrops(this.current)) add(this.current.droppedByTopic());
    return merged;
  }

  /** Replaces the running instance with one built from the new configuration. */
  async replace(build: SourceFactory, options: ReplaceOptions): Promise<void> {
    clearTimeout(this.settleTimer);
    const old = this.current;
    if (!options.overlap) {
      this.held = { health: old.health(), until: Date.now() + HOLD_HEALTH_MS };
      await old.stop();
      this.swap(old, build(this.sink));
      await this.startQuietly(this.current);
      return;
    }
    this.sink.beginHandover(options.newestTs);
    const duplicatesBefore = this.sink.duplicates;
    const next = build(this.sink);
    await this.startQuietly(next);
    const connected = await waitUntil(() => next.health().connected || this.signal?.aborted === true, options.connectWaitMs);
    if (!connected) this.log.warn({ source: this.name, waitedMs: options.connectWaitMs }, `source ${this.name}: the new session is not connected yet; the old one is stopped anyway and the new one keeps retrying`);
    await old.stop();
    this.swap(old, next);
    this.settleTimer = setTimeout(() => {
      this.sink.endHandover();
      this.log.info({ source: this.name, duplicates: this.sink.duplicates - duplicatesBefore }, `source ${this.name} handed over to its new session; values both sessions delivered were passed on once`);
    }, options.settleMs);
    this.settleTimer.unref();
  }

  /** In one synchronous step, so that counters() never counts the old instance twice or not at all. */
  private swap(old: Source, next: Source): void {
    this.retired = addCounters(this.retired, old.counters());
    if (hasTopicDrops(old)) {
      for (const [topic, reasons] of old.droppedByTopic()) this.retiredTopicDrops.set(topic, addRecords(this.retiredTopicDrops.get(topic) ?? {}, reasons));
    }
    this.current = next;
  }

  /**
   * Replacements start without the agent's abort signal: each would add a
   * listener to it for good. The agent stops its sources itself, after any
   * reload in progress, so the instance in the slot by then is stopped.
   */
  private async startQuietly(source: Source): Promise<void> {
    try {
      await source.start();
    } catch (err) {
      // As at startup: a source that cannot start (a secret file missing) is reported, the others run.
      this.log.error({ source: this.name, err: describeError(err) }, 'source failed to start');
    }
  }
}

interface TopicDrops {
  droppedByTopic(): Map<string, Record<string, number>>;
}

function hasTopicDrops(source: Source): source is Source & TopicDrops {
  return typeof (source as Partial<TopicDrops>).droppedByTopic === 'function';
}

function addCounters(a: SourceCounters, b: SourceCounters): SourceCounters {
  return {
    samples: a.samples + b.samples,
    messages: a.messages + b.messages,
    dropped: addRecords(a.dropped, b.dropped),
    errors: addRecords(a.errors, b.errors),
    reconnects: a.reconnects + b.reconnects,
    gaps: a.gaps + b.gaps,
  };
}

function addRecords(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const sum = { ...a };
  for (const [key, n] of Object.entries(b)) sum[key] = (sum[key] ?? 0) + n;
  return sum;
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}
