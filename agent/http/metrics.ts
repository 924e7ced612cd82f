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

export interface MetricsInputs {
  sources: () => readonly Source[];
  pipeline: SamplePipeline;
  tags: TagTable;
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
  return registry;
}
