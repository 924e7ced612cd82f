import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { SamplePipeline } from '../pipeline/sample-pipeline.js';
import type { Source } from '../sources/source.js';
import type { TagTable } from '../tags/tag-table.js';

/** Sources that also count drops per topic (MQTT). */
interface TopicDropReporter {
  droppedByTopic(): Map<string, Record<string, number>>;
}

function hasTopicDrops(source: Source): source is Source & TopicDropReporter {
  return typeof (source as Partial<TopicDropReporter>).droppedByTopic === 'function';
}

/** What the scoring side exposes for /metrics (ModelHost fits). */
export interface ScoringMetricsSource {
  versionStats(): Array<{ key: string; scored: number; insufficient: number; shadowScored: number; batches: number; inferenceSeconds: number; faults: number }>;
  windowCounters(): Array<{ model: string; counters: { late: number; invalid: number; skippedGapWindows: number; overflowWindows: number } }>;
}

/** What the store and the episode flow expose for /metrics (AgentStore and EpisodeFlow fit). */
export interface StoreMetricsSource {
  outbox: { stats(): Record<string, { next: number; acked: number; durable: number; pendingCount: number; pendingBytes: number }> };
  counters(): { evicted: Record<string, number>; evictionFailures: number; outboxWriteFailures: number; quarantined: number; staleReadersCleared: number };
  sizeBytes(): { outbox: number; history: number; used: number; quota: number; file: number };
  history: { snapshot(): { expired: number } };
}
export interface EpisodeMetricsSource {
  counters(): { appendFailures: number; trackers: Record<string, { opened: number; closed: number; merged: number; droppedShort: number; updates: number }> };
}

/** What the hub link exposes for /metrics (HubLink.status() fits). */
export interface SyncMetricsSource {
  status(): {
    connected: boolean;
    failovers: number;
    counters: { recordsSent: Record<string, number>; acked: Record<string, number>; reconnects: number; protocolErrors: number };
  };
}

export interface MetricsInputs {
  sources: () => readonly Source[];
  pipeline: SamplePipeline;
  tags: TagTable;
  scoring?: ScoringMetricsSource;
  store?: StoreMetricsSource;
  episodes?: EpisodeMetricsSource;
  sync?: SyncMetricsSource;
}

/**
 * The agent's Prometheus registry. Stages keep plain counters (no label hashing
 * per sample); these collectors copy them into prom-client at scrape time.
 */
export function createMetricsRegistry(inputs: MetricsInputs): Registry {
  const registry = new Registry();
  // Process metrics include nodejs_eventloop_lag_p99_seconds (event-loop delay).
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });

  const perSource = <T extends Counter<string> | Gauge<string>>(metric: T, fill: (metric: T, source: Source) => void): T => {
    (metric as unknown as { collect: () => void }).collect = () => {
      metric.reset();
      for (const source of inputs.sources()) fill(metric, source);
    };
    return metric;
  };

  const labels = ['source', 'type'];
  registry.registerMetric(
    perSource(new Counter({ name: 'vigil_source_samples_total', help: 'Samples a source emitted into the pipeline.', labelNames: labels, registers: [] }), (m, s) =>
      m.inc({ source: s.name, type: s.type }, s.counters().samples),
    ),
  );
  registry.registerMetric(
    perSource(new Counter({ name: 'vigil_source_messages_total', help: 'Messages or data-change notifications a source received.', labelNames: labels, registers: [] }), (m, s) =>
      m.inc({ source: s.name, type: s.type }, s.counters().messages),
    ),
  );
  registry.registerMetric(
    perSource(new Counter({ name: 'vigil_source_dropped_total', help: 'Input a source dropped, by reason.', labelNames: ['source', 'type', 'reason'], registers: [] }), (m, s) => {
      for (const [reason, n] of Object.entries(s.counters().dropped)) m.inc({ source: s.name, type: s.type, reason }, n);
    }),
  );
  registry.registerMetric(
    perSource(new Counter({ name: 'vigil_source_errors_total', help: 'Errors of a source, by kind.', labelNames: ['source', 'type', 'kind'], registers: [] }), (m, s) => {
      for (const [kind, n] of Object.entries(s.counters().errors)) m.inc({ source: s.name, type: s.type, kind }, n);
    }),
  );
  registry.registerMetric(
    perSource(new Counter({ name: 'vigil_source_reconnects_total', help: 'Reconnections of a source after a loss.', labelNames: labels, registers: [] }), (m, s) =>
      m.inc({ source: s.name, type: s.type }, s.counters().reconnects),
    ),
  );
  registry.registerMetric(
    perSource(new Counter({ name: 'vigil_source_gaps_total', help: 'Data gaps a source recorded (disconnects, stale subscriptions, sequence gaps).', labelNames: labels, registers: [] }), (m, s) =>
      m.inc({ source: s.name, type: s.type }, s.counters().gaps),
    ),
  );
  registry.registerMetric(
    perSource(new Gauge({ name: 'vigil_source_connected', help: '1 when the source is connected, else 0.', labelNames: labels, registers: [] }), (m, s) =>
      m.set({ source: s.name, type: s.type }, s.health().connected ? 1 : 0),
    ),
  );
  registry.registerMetric(
    perSource(new Counter({ name: 'vigil_mqtt_dropped_by_topic_total', help: 'MQTT payloads dropped, per topic and reason.', labelNames: ['source', 'topic', 'reason'], registers: [] }), (m, s) => {
      if (!hasTopicDrops(s)) return;
      for (const [topic, reasons] of s.droppedByTopic()) {
        for (const [reason, n] of Object.entries(reasons)) m.inc({ source: s.name, topic, reason }, n);
      }
    }),
  );

  const pipelineCounter = (name: string, help: string, pick: () => number, labelValues?: Record<string, string>) =>
    new Counter({
      name,
      help,
      labelNames: labelValues ? Object.keys(labelValues) : [],
      registers: [registry],
      collect() {
        this.reset();
        if (labelValues) this.inc(labelValues, pick());
        else this.inc(pick());
      },
    });
  pipelineCounter('vigil_pipeline_received_total', 'Samples offered to the pipeline.', () => inputs.pipeline.snapshot().received);
  pipelineCounter('vigil_pipeline_emitted_total', 'Samples the pipeline delivered downstream.', () => inputs.pipeline.snapshot().emitted);
  pipelineCounter('vigil_pipeline_dropped_total', 'Samples the pipeline dropped, by reason.', () => inputs.pipeline.snapshot().droppedOverflow, { reason: 'overflow' });
  new Gauge({
    name: 'vigil_pipeline_depth',
    help: 'Samples waiting in the pipeline.',
    registers: [registry],
    collect() {
      this.set(inputs.pipeline.snapshot().depth);
    },
  });
  new Gauge({
    name: 'vigil_tags',
    help: 'Tags known to the agent, by state (configured: listed on /tags; live: delivering good or uncertain data).',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const c = inputs.tags.counts();
      this.set({ state: 'configured' }, c.configured);
      this.set({ state: 'live' }, c.live);
    },
  });
  if (inputs.scoring) registerScoringMetrics(registry, inputs.scoring);
  if (inputs.store) registerStoreMetrics(registry, inputs.store);
  if (inputs.episodes) registerEpisodeMetrics(registry, inputs.episodes);
  if (inputs.sync) registerSyncMetrics(registry, inputs.sync);
  return registry;
}

function registerSyncMetrics(registry: Registry, sync: SyncMetricsSource): void {
  const perStream = (name: string, help: string, pick: (c: ReturnType<SyncMetricsSource['status']>['counters']) => Record<string, number>) =>
    new Counter({
      name,
      help,
      labelNames: ['stream'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [stream, n] of Object.entries(pick(sync.status().counters))) this.inc({ stream }, n);
      },
    });
  perStream('vigil_sync_records_sent_total', 'Outbox records sent to the hub, by stream (records resent after a reconnect count again).', (c) => c.recordsSent);
  perStream('vigil_sync_acked_total', 'Outbox records the hub acknowledged as stored, by stream.', (c) => c.acked);
  new Gauge({
    name: 'vigil_sync_connected',
    help: '1 while the agent is connected to the hub (welcomed), else 0.',
    registers: [registry],
    collect() {
      this.set(sync.status().connected ? 1 : 0);
    },
  });
  const total = (name: string, help: string, pick: (c: ReturnType<SyncMetricsSource['status']>['counters']) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(pick(sync.status().counters));
      },
    });
  total('vigil_sync_reconnects_total', 'Connections to the hub lost or refused, each followed by a new attempt (at once on the next hub URL within a round, else after a backoff).', (c) => c.reconnects);
  new Counter({
    name: 'vigil_sync_failovers_total',
    help: 'Moves to another hub URL (replica) after a dropped connection or a failed attempt.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sync.status().failovers);
    },
  });
  total('vigil_sync_protocol_errors_total', 'Malformed or out-of-order messages from the hub (each closes the connection with code 4000).', (c) => c.protocolErrors);
}

function registerStoreMetrics(registry: Registry, store: StoreMetricsSource): void {
  const perStream = (name: string, help: string, pick: (s: { next: number; acked: number; durable: number; pendingCount: number; pendingBytes: number }) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['stream'],
      registers: [registry],
      collect() {
        for (const [stream, s] of Object.entries(store.outbox.stats())) this.set({ stream }, pick(s));
      },
    });
  perStream('vigil_outbox_durable_seq', 'Highest sequence number of a stream that is on disk (committed).', (s) => s.durable);
  perStream('vigil_outbox_acked_seq', 'Highest sequence number of a stream the hub has acknowledged.', (s) => s.acked);
  perStream('vigil_outbox_pending_records', 'Records of a stream waiting for the hub.', (s) => s.pendingCount);
  perStream('vigil_outbox_pending_bytes', 'Bytes of a stream waiting for the hub.', (s) => s.pendingBytes);
  new Counter({
    name: 'vigil_store_evicted_total',
    help: 'Records evicted because the store reached store.quotaBytes, by kind (history and scores first, episodes last).',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, n] of Object.entries(store.counters().evicted)) this.inc({ kind }, n);
    },
  });
  new Counter({
    name: 'vigil_history_expired_samples_total',
    help: 'Raw history samples deleted by retention (older than store.historyHours): expected, not a loss.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(store.history.snapshot().expired);
    },
  });
  new Counter({
    name: 'vigil_store_errors_total',
    help: 'Store failures, by kind: write (an outbox commit failed), eviction, quarantined (the store was damaged at start and moved aside).',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      const c = store.counters();
      this.inc({ kind: 'write' }, c.outboxWriteFailures);
      this.inc({ kind: 'eviction' }, c.evictionFailures);
      this.inc({ kind: 'quarantined' }, c.quarantined);
    },
  });
  new Gauge({
    name: 'vigil_store_bytes',
    help: 'Store size in bytes, by part: outbox, history, used (what the quota limits), quota, file (data.mdb on disk).',
    labelNames: ['part'],
    registers: [registry],
    collect() {
      for (const [part, n] of Object.entries(store.sizeBytes())) this.set({ part }, n);
    },
  });
}

function registerEpisodeMetrics(registry: Registry, episodes: EpisodeMetricsSource): void {
  new Counter({
    name: 'vigil_episodes_total',
    help: 'Episodes per model, by event: opened, closed, merged (reopened within the merge gap), dropped_short (shorter than minDurationMs), updates (revisions of open episodes).',
    labelNames: ['model', 'event'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [model, c] of Object.entries(episodes.counters().trackers)) {
        this.inc({ model, event: 'opened' }, c.opened);
        this.inc({ model, event: 'closed' }, c.closed);
        this.inc({ model, event: 'merged' }, c.merged);
        this.inc({ model, event: 'dropped_short' }, c.droppedShort);
        this.inc({ model, event: 'updates' }, c.updates);
      }
    },
  });
}

function registerScoringMetrics(registry: Registry, scoring: ScoringMetricsSource): void {
  const split = (key: string) => {
    const at = key.lastIndexOf('@');
    return { model: key.slice(0, at), version: key.slice(at + 1) };
  };
  new Counter({
    name: 'vigil_model_windows_total',
    help: 'Windows of a model version, by outcome: scored, shadow (scored by a shadow version), insufficient_data.',
    labelNames: ['model', 'version', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of scoring.versionStats()) {
        const l = split(s.key);
        this.inc({ ...l, outcome: 'scored' }, s.scored);
        this.inc({ ...l, outcome: 'shadow' }, s.shadowScored);
        this.inc({ ...l, outcome: 'insufficient_data' }, s.insufficient);
      }
    },
  });
  new Counter({
    name: 'vigil_model_inference_seconds_total',
    help: 'Time spent scoring batches of a model version (tensor building, worker round trip, ONNX run), in seconds; divide by vigil_model_batches_total for the mean.',
    labelNames: ['model', 'version'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of scoring.versionStats()) this.inc(split(s.key), s.inferenceSeconds);
    },
  });
  new Counter({
    name: 'vigil_model_batches_total',
    help: 'Batches of windows scored by a model version.',
    labelNames: ['model', 'version'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of scoring.versionStats()) this.inc(split(s.key), s.batches);
    },
  });
  new Counter({
    name: 'vigil_model_errors_total',
    help: 'Run-time faults of a model version (error, NaN or wrong-shaped output).',
    labelNames: ['model', 'version'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of scoring.versionStats()) this.inc(split(s.key), s.faults);
    },
  });
  new Counter({
    name: 'vigil_window_dropped_total',
    help: "Samples or windows a model's windowing dropped, by reason: late_sample (beyond models.lateToleranceMs), invalid_sample, overflow_window (scoring fell behind). Windows skipped in data gaps count as gap_window.",
    labelNames: ['model', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { model, counters } of scoring.windowCounters()) {
        this.inc({ model, reason: 'late_sample' }, counters.late);
        this.inc({ model, reason: 'invalid_sample' }, counters.invalid);
        this.inc({ model, reason: 'overflow_window' }, counters.overflowWindows);
        this.inc({ model, reason: 'gap_window' }, counters.skippedGapWindows);
      }
    },
  });
}
