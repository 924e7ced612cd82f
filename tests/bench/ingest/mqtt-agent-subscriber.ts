import { MqttSourceSchema, MqttTagSchema } from '../../../agent/config/schema.js';
import { MqttSource } from '../../../agent/sources/mqtt/mqtt-source.js';
import { BASE_TS, BROKER_HOST, BROKER_PORT, VARIANTS, agentTagInput, expectedTags, type MqttProfile } from './mqtt-traffic.js';
import { createAgentPath } from './agent-context.js';
import { WindowMeter, runRole, sendEvent, serveCommands, sleep } from './child-meter.js';
import type { AgentMqttCheck } from './mqtt-phase.js';

/**
 * The agent's MQTT ingestion: MqttSource → SamplePipeline → TagTable, with
 * one template tag rule on the same filter and QoS as the bare client. On stop
 * it checks its own output: every tag named as the template says, every value
 * from the right topic, nothing lost between source, pipeline and tag table.
 *
 * argv: <profile> <run>
 */
runRole(async () => {
  const [profile, run] = process.argv.slice(2) as [MqttProfile, string];
  const tag = MqttTagSchema.parse(agentTagInput(profile, run));
  const config = MqttSourceSchema.parse({
    name: 'bench',
    type: 'mqtt',
    url: `mqtt://${BROKER_HOST}:${BROKER_PORT}`,
    clientId: `bench-agent-${run}-${process.pid}`,
    // No session left behind on the broker after the run.
    sessionExpirySeconds: 0,
  });
  const path = createAgentPath([{ name: tag.name, source: 'bench' }]);
  const source = new MqttSource(config, [tag], path.ctx);
  await source.start();
  const subscribed = source.subscribed.then(() => true);
  const deadline = Date.now() + 20_000;
  while (!(await Promise.race([subscribed, sleep(100).then(() => false)]))) {
    if (Date.now() > deadline) throw new Error(`MqttSource did not subscribe within 20 s: ${JSON.stringify(source.health())}`);
  }

  const meter = new WindowMeter(() => ({ messages: source.counters().messages, samples: path.pipeline.snapshot().emitted }));
  serveCommands(meter, async () => {
    await source.stop();
    path.pipeline.flush();
    const check = checkOutput(profile, source, path);
    path.dispose();
    return check;
  });
  sendEvent('ready');
});

function checkOutput(profile: MqttProfile, source: MqttSource, path: ReturnType<typeof createAgentPath>): AgentMqttCheck {
  const expected = expectedTags(profile);
  const counters = source.counters();
  const pipe = path.pipeline.snapshot();
  let tagsSeen = 0;
  let tagsUnexpected = 0;
  let valueMismatches = 0;
  let tagTableSamples = 0;
  for (const state of path.tags.list()) {
    tagTableSamples += state.samples;
    if (state.samples === 0) continue;
    const origin = expected.get(state.tag);
    if (origin === undefined) {
      tagsUnexpected++;
      continue;
    }
    tagsSeen++;
    const v = state.value ?? NaN;
    const variant = Math.round((v - origin) * 10);
    const okValue = Math.floor(v + 1e-9) === origin && variant >= 0 && variant < VARIANTS;
    const okTs = state.ts !== null && state.ts >= BASE_TS && state.ts < BASE_TS + VARIANTS;
    if (!okValue || !okTs || state.quality !== 'good') valueMismatches++;
  }
  const problems: string[] = [];
  if (pipe.droppedOverflow > 0) problems.push(`pipeline refused ${pipe.droppedOverflow} samples (capacity ${pipe.capacity})`);
  if (pipe.emitted + pipe.droppedOverflow !== pipe.received) problems.push(`the pipeline received ${pipe.received} samples but delivered ${pipe.emitted} and refused ${pipe.droppedOverflow}`);
  if (tagTableSamples !== pipe.emitted) problems.push(`pipeline delivered ${pipe.emitted} samples but the tag table counted ${tagTableSamples}`);
  if (tagsUnexpected > 0) problems.push(`${tagsUnexpected} tags with names the template should not produce`);
  if (valueMismatches > 0) problems.push(`${valueMismatches} tags whose last value, timestamp or quality does not match their topic`);
  if (tagsSeen < expected.size) problems.push(`only ${tagsSeen} of ${expected.size} expected tags received data`);
  const dropped = Object.entries(counters.dropped).filter(([, n]) => n > 0);
  if (dropped.length > 0) problems.push(`source dropped input: ${dropped.map(([k, n]) => `${k}=${n}`).join(', ')}`);
  if (path.tags.counts().overflowed > 0) problems.push(`tag table overflowed ${path.tags.counts().overflowed} times`);
  return {
    messages: counters.messages,
    sourceSamples: counters.samples,
    pipelineReceived: pipe.received,
    pipelineEmitted: pipe.emitted,
    pipelineDropped: pipe.droppedOverflow,
    tagTableSamples,
    tagTableOverflowed: path.tags.counts().overflowed,
    sourceDropped: { ...counters.dropped },
    sourceErrors: { ...counters.errors },
    tagsExpected: expected.size,
    tagsSeen,
    tagsUnexpected,
    valueMismatches,
    problems,
  };
}
