import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageHandler, type HandlerOutput } from '../../agent/sources/mqtt/message-handler.js';
import { encodeSparkplug } from '../../agent/sources/mqtt/sparkplug.js';
import { compileTagRules } from '../../agent/sources/mqtt/tag-rules.js';
import { mqttTag } from '../helpers/mqtt-harness.js';

/**
 * RELIABILITY.md fault matrix row 11: malformed MQTT payloads (fuzzed) are
 * counted per topic, never crash the decoder, and keep memory bounded. The
 * handler is driven directly with arbitrary topics and payloads: JSON-ish
 * text, random bytes, mangled Sparkplug B.
 */
const { rules } = compileTagRules([
  mqttTag({ name: 'line.{1}.temp', topic: 'plant/+/temp', json: { value: 'data.v', timestamp: 'data.ts', quality: 'q' } }),
  mqttTag({ name: 'batch.{name}', topic: 'plant/batch', json: { name: 'n', value: 'v' } }),
  mqttTag({ name: 'level.{2}', topic: 'plant/tank/+', format: 'number' }),
  mqttTag({ name: 'c1.{metric}', topic: 'spBv1.0/g1/+/e1/c1', format: 'sparkplug', metric: '*' }),
]);

function recordingHandler(options: { routeCacheSize?: number } = {}) {
  const seen = { samples: 0, drops: 0, gaps: 0, dropTopics: new Set<string>(), nonFinitePassedAsGood: 0 };
  const out: HandlerOutput = {
    sample: (_tag, value, ts, quality) => {
      seen.samples++;
      if (!Number.isFinite(ts)) throw new Error(`non-finite timestamp ${ts}`);
      if (quality === 'good' && !Number.isFinite(value)) seen.nonFinitePassedAsGood++;
    },
    drop: (topic, _reason, _rule, n) => {
      seen.drops += n;
      seen.dropTopics.add(topic);
    },
    gap: () => seen.gaps++,
  };
  return { handler: new MessageHandler(rules, out, { maxPayloadBytes: 64 * 1024, ...options }), seen };
}

const topics = fc.oneof(
  fc.constantFrom('plant/a/temp', 'plant/batch', 'plant/tank/3', 'spBv1.0/g1/DDATA/e1/c1', 'spBv1.0/g1/DBIRTH/e1/c1', 'spBv1.0/g1/NDEATH/e1', 'other/topic'),
  fc.array(fc.constantFrom('plant', 'a', 'temp', 'tank', 'spBv1.0', 'g1', '', '+', '#'), { minLength: 1, maxLength: 6 }).map((l) => l.join('/')),
);
const jsonish = fc.oneof(
  fc.json(),
  fc.jsonValue().map((v) => JSON.stringify({ data: { v, ts: v }, q: v })),
  fc.array(fc.record({ n: fc.oneof(fc.string(), fc.integer()), v: fc.jsonValue() })).map((a) => JSON.stringify(a)),
  fc.string(),
  fc.constantFrom('NaN', 'Infinity', '-1e400', '1e400', '', ' 12 ', '0x1f', 'null', '[]', '{}', '{"data":{"v":"12.5"}}'),
);
const payloads = fc.oneof(
  jsonish.map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
  fc
    .tuple(fc.integer({ min: 0, max: 300 }), fc.array(fc.record({ alias: fc.integer({ min: 0, max: 5 }), v: fc.double() }), { maxLength: 5 }))
    .map(([seq, metrics]) => encodeSparkplug({ timestamp: Date.now(), seq, metrics: metrics.map((m) => ({ alias: m.alias, type: 'Double', value: m.v })) } as never)),
  // A valid Sparkplug payload cut short anywhere.
  fc.integer({ min: 0, max: 60 }).map((cut) => encodeSparkplug({ timestamp: 1, seq: 1, metrics: [{ alias: 1, type: 'Double', value: 4.2 }] } as never).subarray(0, cut)),
);

describe('MQTT decoding under fuzzed input', () => {
  it('never throws; every message ends as samples or counted drops; nothing non-finite passes as good', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(topics, payloads), { minLength: 1, maxLength: 40 }), (messages) => {
        const { handler, seen } = recordingHandler();
        for (const [topic, payload] of messages) {
          const before = seen.samples + seen.drops;
          handler.handle(topic, payload);
          // A message that produced nothing at all must have been counted as dropped — unless it is
          // Sparkplug state (a birth or death) or an empty JSON array, which carries no sample to lose.
          const carriesNothing = /^\s*\[\s*\]\s*$/.test(payload.toString('utf8'));
          if (seen.samples + seen.drops === before && !topic.startsWith('spBv1.0/') && !carriesNothing) return false;
        }
        expect(seen.nonFinitePassedAsGood).toBe(0);
        return true;
      }),
      { numRuns: 500 },
    );
  });

  it('keeps its per-topic state bounded however many distinct topics arrive', () => {
    const { handler, seen } = recordingHandler({ routeCacheSize: 100 });
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 50_000; i++) handler.handle(`plant/t${i}/temp`, Buffer.from('{"data":{"v":"oops"}}'));
    expect(seen.drops).toBe(50_000);
    expect((handler as unknown as { routes: Map<string, unknown> }).routes.size).toBeLessThanOrEqual(100);
    // 50k distinct topics must not leave 50k cached routes behind (a few MB at most, whatever GC does).
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(40 * 1024 * 1024);
  });
});
