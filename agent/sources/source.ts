import type { Logger } from '../../shared/logger.js';
import type { Sample } from '../../shared/sample.js';

/** Where a source delivers samples. `push` never blocks; it returns false when
 * the sample was dropped because the pipeline is full (the pipeline counts it). */
export interface SampleSink {
  push(sample: Sample): boolean;
}

/** Per-tag problems that a person must see on /tags (unknown node, bad payload…). */
export interface TagStatusReporter {
  /** Records the latest error for a tag; `undefined` clears it. */
  tagError(tag: string, message: string | undefined): void;
}

export interface SourceContext {
  agentId: string;
  /** Absolute path of the agent's data folder. */
  dataDir: string;
  sink: SampleSink;
  status: TagStatusReporter;
  log: Logger;
}

/** Counters every source keeps; /metrics reads them (no prom-client in the hot path). */
export interface SourceCounters {
  /** Samples emitted into the pipeline. */
  samples: number;
  /** Messages or notifications received from the server/broker. */
  messages: number;
  /** Dropped input, by reason (e.g. `malformed_json`, `not_a_number`, `unmapped_topic`). */
  dropped: Record<string, number>;
  /** Errors, by kind (e.g. `connect`, `monitor`, `stale_subscription`). */
  errors: Record<string, number>;
  /** Successful reconnections after a loss. */
  reconnects: number;
  /** Recorded data gaps (disconnects, stale subscriptions, Sparkplug sequence gaps). */
  gaps: number;
}

export interface SourceHealth {
  name: string;
  type: 'opcua' | 'mqtt';
  connected: boolean;
  /** Human-readable state, e.g. `connected`, `connecting (attempt 3, next in 8 s)`, `certificate not trusted`. */
  state: string;
  lastError?: string;
  /** Milliseconds since epoch when `connected` last changed. */
  since: number;
  tagsConfigured: number;
}

/**
 * The contract every source follows. `start` returns once the source is
 * running — not once it is connected: a server that is down is retried in the
 * background and never stops the others. `stop` is safe at any time, also
 * after a failed start. Nothing throws past this boundary while running.
 */
export interface Source {
  readonly name: string;
  readonly type: 'opcua' | 'mqtt';
  start(signal?: AbortSignal): Promise<void>;
  stop(): Promise<void>;
  health(): SourceHealth;
  counters(): SourceCounters;
}

export function emptyCounters(): SourceCounters {
  return { samples: 0, messages: 0, dropped: {}, errors: {}, reconnects: 0, gaps: 0 };
}

export function countInto(map: Record<string, number>, key: string, n = 1): void {
  map[key] = (map[key] ?? 0) + n;
}
