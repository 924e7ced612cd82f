import { readFileSync } from 'node:fs';
import { OpcuaSourceSchema, OpcuaTagSchema } from '../../../agent/config/schema.js';
import { OpcuaSource } from '../../../agent/sources/opcua/opcua-source.js';
import { createAgentPath } from './agent-context.js';
import { WindowMeter, runRole, sendEvent, serveCommands, sleep } from './child-meter.js';
import { MissedChanges, VERIFY_MS } from './missed-changes.js';

/**
 * The agent's OPC UA ingestion: OpcuaSource → SamplePipeline → TagTable, one
 * tag per bulk node (sampling and publishing 1000 ms, queue size 1, security
 * None, the source's default of 1000 items per subscription).
 *
 * argv: <endpoint> <namespaceUri> <nodes file (JSON array of string ids)> [maxItemsPerSubscription]
 */

export interface AgentOpcuaCheck {
  notifications: number;
  sourceSamples: number;
  pipelineEmitted: number;
  pipelineDropped: number;
  tagsWithData: number;
  tagsBad: number;
  sourceDropped: Record<string, number>;
  sourceErrors: Record<string, number>;
  gaps: number;
  problems: string[];
}

runRole(async () => {
  const [endpoint, namespaceUri, nodesFile, perSubscription] = process.argv.slice(2) as [string, string, string, string | undefined];
  const nodes = JSON.parse(readFileSync(nodesFile, 'utf8')) as string[];
  const config = OpcuaSourceSchema.parse({
    name: 'bench',
    type: 'opcua',
    endpoint,
    securityMode: 'None',
    publishingIntervalMs: 1000,
    ...(perSubscription ? { maxItemsPerSubscription: Number(perSubscription) } : {}),
  });
  const tags = nodes.map((id) =>
    OpcuaTagSchema.parse({ name: `bulk.${id.slice('Bulk.'.length)}`, source: 'bench', nodeId: `nsu=${namespaceUri};s=${id}`, samplingIntervalMs: 1000, publishingIntervalMs: 1000, queueSize: 1 }),
  );
  const path = createAgentPath(tags.map((t) => ({ name: t.name, source: 'bench' })));
  const source = new OpcuaSource(config, tags, path.ctx);
  await source.start();
  const deadline = Date.now() + 120_000;
  while (path.tags.counts().live < tags.length) {
    if (Date.now() > deadline) throw new Error(`only ${path.tags.counts().live} of ${tags.length} tags live within 120 s: ${JSON.stringify(source.health())}`);
    await sleep(200);
  }

  const meter = new WindowMeter(() => ({ messages: source.counters().messages, samples: path.pipeline.snapshot().emitted }));
  // Installed only for the verification period after the window, so it costs the measured agent nothing.
  const missed = new MissedChanges(tags.length);
  const tagIndex = new Map(tags.map((t, i) => [t.name, i]));
  path.pipeline.subscribe((batch) => {
    if (!missed.active) return;
    for (const sample of batch) missed.see(tagIndex.get(sample.tag) ?? 0, sample.ts);
  });
  serveCommands(
    meter,
    async () => {
    await source.stop();
    const counters = source.counters();
    path.pipeline.flush();
    const pipe = path.pipeline.snapshot();
    const states = path.tags.list();
    const check: AgentOpcuaCheck = {
      notifications: counters.messages,
      sourceSamples: counters.samples,
      pipelineEmitted: pipe.emitted,
      pipelineDropped: pipe.droppedOverflow,
      tagsWithData: states.filter((s) => s.samples > 0).length,
      tagsBad: states.filter((s) => s.quality !== 'good').length,
      sourceDropped: counters.dropped,
      sourceErrors: counters.errors,
      gaps: counters.gaps,
      problems: [],
    };
    if (pipe.droppedOverflow > 0) check.problems.push(`pipeline refused ${pipe.droppedOverflow} samples`);
    if (pipe.emitted !== counters.messages) check.problems.push(`${counters.messages} notifications in but ${pipe.emitted} samples out of the pipeline`);
    if (check.tagsWithData < tags.length) check.problems.push(`only ${check.tagsWithData} of ${tags.length} tags received data`);
    if (check.gaps > 0) check.problems.push(`${check.gaps} data gaps (session lost during the run)`);
    const dropped = Object.entries(counters.dropped).filter(([, n]) => n > 0);
    if (dropped.length > 0) check.problems.push(`source dropped: ${dropped.map(([k, n]) => `${k}=${n}`).join(', ')}`);
    path.dispose();
    return check;
    },
    { verify: () => missed.measure(VERIFY_MS) },
  );
  sendEvent('ready', { items: tags.length, subscriptions: Math.ceil(tags.length / config.maxItemsPerSubscription) });
});
