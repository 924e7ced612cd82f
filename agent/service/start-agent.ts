import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentEvent, TagSnapshot } from '../../shared/episode.js';
import type { Logger } from '../../shared/logger.js';
import type { WindowResult } from '../../shared/window-result.js';
import type { ResolvedConfig } from '../config/schema.js';
import { downsample } from '../episodes/downsample.js';
import { EpisodeFlow } from '../episodes/episode-flow.js';
import { modelAgentEvent } from '../episodes/model-agent-event.js';
import { DropReporter } from '../events/drop-events.js';
import { SourceEventWatcher } from '../events/source-events.js';
import { assessHealth, withConfigHealth, type HealthReport } from '../http/health.js';
import { createMetricsRegistry } from '../http/metrics.js';
import { startAgentHttp } from '../http/server.js';
import { SamplePipeline } from '../pipeline/sample-pipeline.js';
import { startScoring, type RunningScoring } from '../scoring/start-scoring.js';
import type { Source } from '../sources/source.js';
import { openAgentStore, type AgentStore } from '../store/open-store.js';
import { startHubLink, type HubLink } from '../sync/hub-link.js';
import { TagTable, type ConfiguredTag } from '../tags/tag-table.js';
import { LiveConfig, type ApplyConfig, type ReloadOutcome } from './live-config.js';
import { SourceSet } from './source-set.js';

export interface RunningAgent {
  /** Base URL of the local HTTP endpoints, e.g. http://127.0.0.1:8710. */
  httpUrl: string;
  sources: readonly Source[];
  pipeline: SamplePipeline;
  tags: TagTable;
  scoring: RunningScoring;
  store: AgentStore;
  episodes: EpisodeFlow;
  /** The link to the hub, when `hub` is configured. */
  hub: HubLink | undefined;
  /** Subscribe to every window result (scored, insufficient, shadow). */
  onResults(listener: (results: WindowResult[]) => void): void;
  /** What /healthz shows. */
  health(): HealthReport;
  /** The configuration in effect: sources and tags as last reloaded, every other key as at start. */
  config(): ResolvedConfig;
  /**
   * Reads the configuration file and its tag files again; when valid, applies
   * what changed in sources and tags without a restart (see LiveConfig).
   */
  reload(trigger: string): Promise<ReloadOutcome>;
  /** Stops sources, delivers what the pipeline holds, scores and commits it, closes the store and HTTP. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Builds the agent's pipeline — the whole data flow on one screen:
 *
 *   sources (opcua, mqtt) ──push──> SamplePipeline (bounded, counted) ──batches──┬─> TagTable (/tags)
 *                                                                                ├─> raw history ring (LMDB)
 *                                                                                └─> ModelHost: windows per model
 *                                                                                     → scoring worker (ONNX) → results
 *   results ──> EpisodeFlow: scores ─┬─> outbox "scores"      (LMDB, gap-free seq per stream,
 *                     EpisodeTracker ├─> outbox "episodes"     committed = flushed to disk,
 *   model, source, store events ─────┴─> outbox "events"       kept until the hub acknowledges)
 *   outbox ──> HubLink (websocket, when `hub` is set): batches in seq order; hub acks delete them;
 *              heartbeats carry health; the outbox absorbs outages
 *   model folder (*.vmodel) ──┬─> deployPackage ──> ModelRegistry (active/pending/shadow/previous)
 *   hub deploy ──> signature ─┘   (one queue)      registry events ──> model_status to the hub
 *   /healthz, /metrics, /tags, /models, /episodes read all of the above.
 *
 * Sources start in the background: one that cannot connect is retried and
 * never stops the others or the HTTP endpoints.
 *
 *   reload(): config files ──checkConfig──> invalid: refused, logged, on /healthz; the old one runs
 *                                        └─> valid: diff ─> SourceSet (start/stop/replace only what changed)
 *                                                        └─> TagTable.reconfigure (removed tags leave /tags)
 */
export async function startAgent(config: ResolvedConfig, log: Logger): Promise<RunningAgent> {
  const startedAt = Date.now();
  const agentId = config.agent.id;
  mkdirSync(config.agent.dataDir, { recursive: true });
  const alarms: string[] = [];

  // Events raised before the flow exists (a quarantined store) wait here.
  let flow: EpisodeFlow | undefined;
  const early: AgentEvent[] = [];
  const raise = (event: AgentEvent) => (flow ? flow.onEvent(event) : early.push(event));

  const store = await openAgentStore({
    dir: join(config.agent.dataDir, 'store'),
    quotaBytes: config.store.quotaBytes,
    historyHours: config.store.historyHours,
    agent: agentId,
    log: log.child({ component: 'store' }),
    onEvent: (e) => {
      if (e.kind === 'store_quarantined') {
        alarms.push(e.message);
        log.error({ code: 'VIGIL_STORE_QUARANTINED', ...e.details }, e.message);
        raise({ kind: e.kind, at: Date.now(), agent: agentId, message: e.message, details: e.details });
      } else {
        log.warn({ code: 'VIGIL_STORE_QUOTA', ...e.details }, e.message);
      }
    },
  });

  const snapshot = (tags: readonly string[], from: number, to: number, maxPoints: number): TagSnapshot[] =>
    tags.map((tag) => {
      const read = store.history.read(tag, from, to);
      return { tag, ...downsample(read.ts, read.values, read.quality, maxPoints) };
    });
  let scoring: RunningScoring | undefined;
  flow = new EpisodeFlow({
    agentId,
    outbox: store.outbox,
    state: store.state,
    snapshot,
    recordScores: (samples) => store.history.append(samples),
    manifest: (key) => scoring?.host.loadedManifest(key),
    log: log.child({ component: 'episodes' }),
  });
  for (const event of early.splice(0)) flow.onEvent(event);
  const episodes = flow;

  const tags = new TagTable();
  tags.configure(configuredTags(config));

  const pipeline = new SamplePipeline(config.pipeline.capacity);
  pipeline.subscribe(tags.consume);
  pipeline.subscribe((batch) => store.history.append(batch));
  let lastOverflowLog = 0;
  let droppedSinceLog = 0;
  pipeline.setOverflowListener((dropped) => {
    droppedSinceLog += dropped;
    const now = Date.now();
    if (now - lastOverflowLog < 10_000) return;
    lastOverflowLog = now;
    log.warn({ code: 'VIGIL_PIPELINE_OVERFLOW', dropped: droppedSinceLog, total: pipeline.snapshot().droppedOverflow }, 'sample pipeline full: samples dropped (counted in vigil_pipeline_dropped_total)');
    droppedSinceLog = 0;
  });

  const resultListeners: Array<(results: WindowResult[]) => void> = [(results) => episodes.onResults(results)];
  scoring = await startScoring(config, log, {
    onResults: (results) => {
      for (const listener of resultListeners) listener(results);
    },
    onModelEvent: (event) => {
      const agentEvent = modelAgentEvent(agentId, event);
      if (agentEvent) raise(agentEvent);
    },
  }, { packages: store.models, roles: store.state });
  const running = scoring;
  pipeline.subscribe(running.host.consume);

  const sourceSet = new SourceSet(config, { agentId, dataDir: config.agent.dataDir, sink: pipeline, status: tags, log });
  const sources = sourceSet.list;
  const sourceEvents = new SourceEventWatcher(agentId, () => sources, raise);
  const dropCounts = () => {
    const counts: Record<string, number> = { 'pipeline/overflow': pipeline.snapshot().droppedOverflow };
    for (const source of sources) for (const [reason, n] of Object.entries(source.counters().dropped)) counts[`source:${source.name}/${reason}`] = n;
    for (const { model, counters } of running.host.windowCounters()) {
      // A model may have two windowers while versions of different window shapes overlap.
      counts[`window:${model}/late_sample`] = (counts[`window:${model}/late_sample`] ?? 0) + counters.late;
      counts[`window:${model}/invalid_sample`] = (counts[`window:${model}/invalid_sample`] ?? 0) + counters.invalid;
    }
    return counts;
  };
  // Once a minute, what was dropped anywhere (sources, pipeline, windows) becomes one event for the hub.
  const dropReporter = new DropReporter(agentId, dropCounts, raise);

  const applyConfig: ApplyConfig = async (diff, next) => {
    // Flushed first, the tag table knows the newest value of every tag: a replaced OPC UA source hands over without duplicates.
    pipeline.flush();
    // Added tags show at once; removed ones stay until their source no longer delivers them.
    const leaving = configuredTags(live.current()).filter((t) => diff.tags.removed.includes(t.name));
    tags.reconfigure([...configuredTags(next), ...leaving]);
    await sourceSet.apply(diff, next, (tag) => tags.get(tag)?.ts ?? undefined);
    // What the old sources delivered is in before their removed tags leave the table.
    pipeline.flush();
    tags.reconfigure(configuredTags(next));
  };
  const live = new LiveConfig(config, applyConfig, log.child({ component: 'config' }));

  let hub: HubLink | undefined;
  const health = (): HealthReport => {
    const assessed = assessHealth(sources, pipeline, startedAt, hub && { status: hub.status(), backlog: hub.backlog() });
    const report = withConfigHealth(assessed, live.health());
    if (alarms.length === 0) return report;
    return { ...report, status: 'degraded', reasons: [...report.reasons, ...alarms] };
  };
  if (config.hub) {
    const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
    hub = startHubLink({
      agentId,
      config: config.hub,
      store,
      history: store.history,
      scoring: running,
      health: { sources: () => sources, tags, dropsTotal: () => sum(dropCounts()) + sum(store.counters().evicted), assess: health, startedAt },
      log: log.child({ component: 'sync' }),
    });
  }

  const metrics = createMetricsRegistry({ sources: () => sources, pipeline, tags, scoring: running.host, store, episodes, ...(hub ? { sync: hub } : {}) });
  const http = await startAgentHttp(config.http.host, config.http.port, {
    health,
    tags: () => tags.list(),
    metrics,
    models: () => running.view(),
    episodes: () => episodes.episodes(),
  });

  const abort = new AbortController();
  await sourceSet.start(abort.signal);
  sourceEvents.start();
  dropReporter.start();
  log.info({ http: http.url, sources: sources.length, tags: config.opcuaTags.length + config.mqttTags.length }, 'agent running');

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      // The hub link first: no download or deployment starts while the rest winds down; the outbox keeps what it did not send.
      await hub?.stop();
      abort.abort();
      // A reload in progress finishes first (the abort cuts its waits short), so no source starts after this.
      await live.close();
      sourceEvents.stop();
      dropReporter.stop();
      await sourceSet.stop();
      // What the pipeline accepted is windowed, scored and committed before the store closes.
      pipeline.flush();
      await running.host.idle();
      dropReporter.report();
      await running.stop();
      await episodes.idle();
      await store.close();
      await http.close();
      log.info('agent stopped');
    })();
    return stopping;
  };
  return {
    httpUrl: http.url,
    sources,
    pipeline,
    tags,
    scoring: running,
    store,
    episodes,
    hub,
    onResults: (l) => resultListeners.push(l),
    health,
    config: () => live.current(),
    reload: (trigger) => live.reload(trigger),
    stop,
  };
}

function configuredTags(config: ResolvedConfig): ConfiguredTag[] {
  return [...config.opcuaTags, ...config.mqttTags].map((t) => ({ name: t.name, source: t.source }));
}
