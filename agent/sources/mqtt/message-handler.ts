import type { Quality } from '../../../shared/sample.js';
import type { BoundName } from './name-template.js';
import { parseNumberPayload } from './payload-number.js';
import { parseSparkplugTopic, isProtocolMetric, SparkplugTracker, type SparkplugTopic } from './sparkplug.js';
import type { TagRule } from './tag-rules.js';
import { TopicMatcher } from './topic-match.js';

/**
 * Turns one MQTT message into samples: topic → matching tag rules (cached per
 * topic, names bound once per topic) → payload decoded once → samples out.
 * No sockets here, so the source and `vigil check --connect` share it and unit
 * tests can drive it directly.
 */

export interface HandlerOutput {
  /** One sample; `rule` is undefined for death-certificate samples. */
  sample(tag: string, value: number, ts: number, quality: Quality, topic: string, rule: TagRule | undefined): void;
  /** A dropped message or sample; `rule` is undefined when no single tag is to blame. */
  drop(topic: string, reason: string, rule: TagRule | undefined, n: number): void;
  /** A Sparkplug sequence gap. */
  gap(topic: string): void;
  /** A Sparkplug edge node whose birth is unknown; the caller may send a rebirth request. */
  rebirth?(group: string, node: string): void;
}

interface Binding {
  rule: TagRule;
  /** undefined when the topic has fewer levels than the name template uses. */
  name: BoundName | undefined;
}

interface Route {
  bindings: Binding[];
  sparkplug: SparkplugTopic | undefined;
  /** JSON rules on this topic. */
  jsonRules: number;
}

/** A JSON payload is parsed at most once per message, whatever the number of tags on it. */
const UNPARSED = Symbol('unparsed');
const INVALID = Symbol('invalid');

export interface MessageHandlerOptions {
  /** Payloads larger than this are dropped unread, in bytes. Default 1 MiB. */
  maxPayloadBytes?: number;
  /** Distinct topics whose routes are cached. Default 10000. */
  routeCacheSize?: number;
  now?: () => number;
}

export class MessageHandler {
  private readonly matcher = new TopicMatcher<TagRule>(0);
  private readonly routes = new Map<string, Route>();
  readonly sparkplug = new SparkplugTracker();
  private readonly maxPayloadBytes: number;
  private readonly routeCacheSize: number;
  private readonly now: () => number;
  private readonly hasSparkplugRules: boolean;

  constructor(
    rules: readonly TagRule[],
    private readonly out: HandlerOutput,
    options: MessageHandlerOptions = {},
  ) {
    for (const r of rules) this.matcher.add(r.matchFilter, r);
    this.maxPayloadBytes = options.maxPayloadBytes ?? 1024 * 1024;
    this.routeCacheSize = options.routeCacheSize ?? 10_000;
    this.now = options.now ?? Date.now;
    this.hasSparkplugRules = rules.some((r) => r.format === 'sparkplug');
  }

  handle(topic: string, payload: Buffer): void {
    const route = this.route(topic);
    const bindings = route.bindings;
    // Sparkplug births and deaths carry state (aliases, seq, bdSeq) even when no tag takes their metrics.
    if (bindings.length === 0 && !(route.sparkplug && this.hasSparkplugRules)) {
      this.out.drop(topic, 'unmapped_topic', undefined, 1);
      return;
    }
    if (payload.length > this.maxPayloadBytes) {
      this.out.drop(topic, 'payload_too_large', bindings.length === 1 ? bindings[0]!.rule : undefined, 1);
      return;
    }
    const receivedAt = this.now();
    if (route.sparkplug) {
      this.handleSparkplug(topic, route.sparkplug, bindings, payload, receivedAt);
      return;
    }
    let parsed: unknown = UNPARSED;
    for (let i = 0; i < bindings.length; i++) {
      const b = bindings[i]!;
      const rule = b.rule;
      if (rule.format === 'number') {
        const name = b.name?.complete;
        if (name === undefined) {
          this.out.drop(topic, 'unresolved_name', rule, 1);
          continue;
        }
        const value = parseNumberPayload(payload);
        if (value === undefined) this.out.drop(topic, 'not_a_number', rule, 1);
        else this.out.sample(name, value, receivedAt, 'good', topic, rule);
      } else {
        if (parsed === UNPARSED) {
          parsed = parseJson(payload);
          // One broken message is one drop, however many tags listen on the topic.
          if (parsed === INVALID) this.out.drop(topic, 'malformed_json', route.jsonRules === 1 ? rule : undefined, 1);
        }
        if (parsed !== INVALID) this.handleJson(topic, b, parsed, receivedAt);
      }
    }
  }

  private handleJson(topic: string, b: Binding, parsed: unknown, receivedAt: number): void {
    const rule = b.rule;
    const reader = rule.json!;
    if (Array.isArray(parsed)) {
      for (let j = 0; j < parsed.length; j++) this.jsonSample(topic, b, reader, parsed[j], receivedAt);
      return;
    }
    this.jsonSample(topic, b, reader, parsed, receivedAt);
  }

  private jsonSample(topic: string, b: Binding, reader: NonNullable<TagRule['json']>, obj: unknown, receivedAt: number): void {
    const r = reader.read(obj, receivedAt);
    if (!r.ok) {
      this.out.drop(topic, r.reason, b.rule, 1);
      return;
    }
    const name = b.name?.fill(r.name, undefined);
    if (name === undefined) {
      this.out.drop(topic, 'unresolved_name', b.rule, 1);
      return;
    }
    this.out.sample(name, r.value, r.ts, r.quality, topic, b.rule);
  }

  private handleSparkplug(topic: string, sp: SparkplugTopic, bindings: Binding[], payload: Buffer, receivedAt: number): void {
    const result = this.sparkplug.handle(sp, payload, receivedAt);
    if (result.malformed) {
      this.out.drop(topic, result.malformed, bindings.length === 1 ? bindings[0]!.rule : undefined, 1);
      return;
    }
    if (result.gap) this.out.gap(topic);
    if (result.needsRebirth) this.out.rebirth?.(sp.group, sp.node);
    if (result.staleDeath) this.out.drop(topic, 'stale_death', undefined, 1);
    for (const reason in result.dropped) this.out.drop(topic, reason, undefined, result.dropped[reason]!);
    for (const tag of result.deadTags) this.out.sample(tag, Number.NaN, receivedAt, 'bad', topic, undefined);
    for (const m of result.metrics) {
      for (const b of bindings) {
        const rule = b.rule;
        if (rule.format !== 'sparkplug') continue;
        if (rule.metric === '*' ? isProtocolMetric(m.name) : rule.metric !== m.name) continue;
        const name = b.name?.fill(undefined, m.name);
        if (name === undefined) {
          this.out.drop(topic, 'unresolved_name', rule, 1);
          continue;
        }
        this.sparkplug.remember(sp, name);
        this.out.sample(name, m.value, m.ts, m.quality, topic, rule);
      }
    }
  }

  private route(topic: string): Route {
    const cached = this.routes.get(topic);
    if (cached) return cached;
    const match = this.matcher.match(topic);
    const sparkplug = parseSparkplugTopic(match.levels);
    const bindings: Binding[] = [];
    for (const rule of match.rules) {
      // A Sparkplug rule's filter also matches topics that are not Sparkplug messages (NCMD, STATE): skip those.
      if (rule.format === 'sparkplug' && !sparkplug) continue;
      if (rule.format !== 'sparkplug' && sparkplug) continue;
      bindings.push({ rule, name: rule.template.bind(match.levels) });
    }
    const route: Route = { bindings, sparkplug, jsonRules: bindings.filter((b) => b.rule.format === 'json').length };
    if (this.routes.size >= this.routeCacheSize) this.routes.clear();
    this.routes.set(topic, route);
    return route;
  }
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return INVALID;
  }
}
