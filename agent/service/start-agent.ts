import { mkdirSync } from 'node:fs';
import type { Logger } from '../../shared/logger.js';
import { describeError } from '../../shared/errors.js';
import type { ResolvedConfig } from '../config/schema.js';
import { assessHealth } from '../http/health.js';
import { createMetricsRegistry } from '../http/metrics.js';
import { startAgentHttp } from '../http/server.js';
import { SamplePipeline } from '../pipeline/sample-pipeline.js';
import { createSources } from '../sources/create-sources.js';
import type { Source } from '../sources/source.js';
import { TagTable } from '../tags/tag-table.js';
import { startScoring } from '../scoring/start-scoring.js';
import type { WindowResult } from '../../shared/window-result.js';

export interface RunningAgent {
  /** Base URL of the local HTTP endpoints, e.g. http://127.0.0.1:8710. */
  httpUrl: string;
  sources: readonly Source[];
  pipeline: SamplePipeline;
  tags: TagTable;
  scoring: Awaited<ReturnType<typeof startScoring>>;
  /** Subscribe to every window result (scored, insufficient, shadow). */
  onResults(listener: (results: WindowResult[]) => void): void;
  /** Stops sources, delivers what the pipeline holds, closes HTTP. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Builds the agent's pipeline — the whole data flow on one screen:
 *
 *   sources (opcua, mqtt) ──push──> SamplePipeline (bounded, counted) ──batches──> TagTable (/tags)
 *                                                                      └─────────> ModelHost: windows per model
 *                                                                                   → scoring worker (ONNX) → results
 *   model folder (*.vmodel) ──> deployPackage ──> ModelRegistry (active/pending/shadow/previous) ─┘
 *   /healthz, /metrics, /tags, /models read the sources, the pipeline, the tag table and the models.
 *
 * Sources start in the background: one that cannot connect is retried and
 * never stops the others or the HTTP endpoints.
 */
export async function startAgent(config: ResolvedConfig, log: Logger): Promise<RunningAgent> {
  const startedAt = Date.now();
  mkdirSync(config.agent.dataDir, { recursive: true });

  const tags = new TagTable();
  tags.configure([...config.opcuaTags, ...config.mqttTags].map((t) => ({ name: t.name, source: t.source })));

  const pipeline = new SamplePipeline(config.pipeline.capacity);
  pipeline.subscribe(tags.consume);
  let lastOverflowLog = 0;
  pipeline.setOverflowListener((dropped) => {
    const now = Date.now();
    if (now - lastOverflowLog < 10_000) return;
    lastOverflowLog = now;
    log.warn({ code: 'VIGIL_PIPELINE_OVERFLOW', dropped, total: pipeline.snapshot().droppedOverflow }, 'sample pipeline full: samples dropped (counted in vigil_pipeline_dropped_total)');
  });

  // Windows are cut from the same sample stream; results go to onResults
  // (issue 4 turns them into episodes and outbox records).
  const resultListeners: Array<(results: WindowResult[]) => void> = [];
  const scoring = await startScoring(config, log, (results) => {
    for (const listener of resultListeners) listener(results);
  });
  pipeline.subscribe(scoring.host.consume);

  const sources = createSources(config, { agentId: config.agent.id, dataDir: config.agent.dataDir, sink: pipeline, status: tags, log });

  const metrics = createMetricsRegistry({ sources: () => sources, pipeline, tags, scoring: scoring.host });
  const http = await startAgentHttp(config.http.host, config.http.port, {
    health: () => assessHealth(sources, pipeline, startedAt),
    tags: () => tags.list(),
    metrics,
    models: () => scoring.view(),
  });

  const abort = new AbortController();
  for (const source of sources) {
    try {
      await source.start(abort.signal);
    } catch (err) {
      // A source that fails to start is reported, not fatal: the others run.
      log.error({ source: source.name, err: describeError(err) }, 'source failed to start');
    }
  }
  log.info({ http: http.url, sources: sources.length, tags: config.opcuaTags.length + config.mqttTags.length }, 'agent running');

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      abort.abort();
      await Promise.allSettled(sources.map((s) => s.stop()));
      pipeline.flush();
      await scoring.stop();
      await http.close();
      log.info('agent stopped');
    })();
    return stopping;
  };
  return { httpUrl: http.url, sources, pipeline, tags, scoring, onResults: (l) => resultListeners.push(l), stop };
}
