import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { describeError, VigilError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/logger.js';
import type { MqttSourceConfig, MqttTagConfig } from '../../config/schema.js';
import type { TagProbeResult } from '../probe.js';
import { explainConnectError, isProtocolVersionRejected, mqttClientOptions } from './connect-options.js';
import { MessageHandler } from './message-handler.js';
import { compileTagRules, subscriptionMap, type TagRule } from './tag-rules.js';
import { TopicMatcher } from './topic-match.js';

interface RuleStats {
  messages: number;
  samples: number;
  last: { tag: string; value: number; topic: string } | undefined;
  dropped: Record<string, number>;
  refused: string | undefined;
}

/**
 * `vigil check --connect` for one broker: subscribe as the tags would, listen
 * for `listenMs`, and say per tag line what arrived. It connects with a
 * throwaway clean-session client id, so the agent's persistent session (and
 * the messages the broker queues for it) is left alone.
 */
export async function probeMqttSource(
  source: MqttSourceConfig,
  tags: MqttTagConfig[],
  opts: { agentId: string; log: Logger; listenMs: number },
): Promise<TagProbeResult[]> {
  const results = new Map<MqttTagConfig, TagProbeResult>();
  const { rules, problems } = compileTagRules(tags);
  for (const p of problems) {
    const tag = tags.find((t) => t.name === p.tag)!;
    results.set(tag, { tag: p.tag, source: source.name, status: 'fail', detail: p.message });
  }
  const clientId = `vigil-check-${opts.agentId}-${randomBytes(3).toString('hex')}`.slice(0, 64);
  let client: MqttClient;
  try {
    client = await connectProbe(source, clientId);
  } catch (err) {
    const detail = `cannot connect: ${describeError(err)}`;
    for (const r of rules) results.set(r.config, { tag: r.config.name, source: source.name, status: 'fail', detail });
    return tags.map((t) => results.get(t)!);
  }

  const stats = new Map<TagRule, RuleStats>(rules.map((r) => [r, { messages: 0, samples: 0, last: undefined, dropped: {}, refused: undefined }]));
  const matcher = new TopicMatcher<TagRule>();
  for (const r of rules) matcher.add(r.matchFilter, r);
  const handler = new MessageHandler(rules, {
    sample: (tag, value, _ts, _q, topic, rule) => {
      const s = rule && stats.get(rule);
      if (!s) return;
      s.samples++;
      s.last = { tag, value, topic };
    },
    drop: (topic, reason, rule, n) => {
      // A drop no single rule owns (one broken JSON message, an unknown alias) goes to every rule on the topic.
      for (const r of rule ? [rule] : matcher.match(topic).rules) {
        const d = stats.get(r)!.dropped;
        d[reason] = (d[reason] ?? 0) + n;
      }
    },
    gap: () => {},
  });
  client.on('message', (topic, payload) => {
    for (const r of matcher.match(topic).rules) stats.get(r)!.messages++;
    try {
      handler.handle(topic, payload);
    } catch (err) {
      opts.log.warn({ err, topic }, 'probe could not decode a message');
    }
  });
  try {
    const granted = await client.subscribeAsync(subscriptionMap(rules));
    for (const g of granted) {
      if (g.qos < 128) continue;
      for (const r of rules) if (r.subscriptions.includes(g.topic)) stats.get(r)!.refused = `the broker refused the subscription to ${g.topic} (reason ${g.qos}); check its ACL for this user`;
    }
    await new Promise((resolve) => setTimeout(resolve, opts.listenMs));
  } catch (err) {
    for (const r of rules) stats.get(r)!.refused = `subscribe failed: ${describeError(err)}`;
  } finally {
    await client.endAsync().catch(() => client.end(true));
  }
  const seconds = Math.round(opts.listenMs / 100) / 10;
  for (const r of rules) results.set(r.config, { tag: r.config.name, source: source.name, ...verdict(stats.get(r)!, seconds) });
  return tags.map((t) => results.get(t)!);
}

function verdict(s: RuleStats, seconds: number): Pick<TagProbeResult, 'status' | 'detail'> {
  if (s.refused) return { status: 'fail', detail: s.refused };
  const drops = Object.entries(s.dropped);
  const dropCount = drops.reduce((n, [, c]) => n + c, 0);
  const dropText = `${dropCount} ${dropCount === 1 ? 'payload' : 'payloads'} dropped: ${drops.map(([r, c]) => (drops.length > 1 ? `${r} ×${c}` : r)).join(', ')}`;
  if (s.samples > 0) {
    const last = s.last!;
    const name = last.tag === last.topic ? '' : ` (${last.tag})`;
    const text = `${s.messages} ${s.messages === 1 ? 'message' : 'messages'}, last ${last.value} on ${last.topic}${name}`;
    return dropCount ? { status: 'warn', detail: `${text}; ${dropText}` } : { status: 'ok', detail: text };
  }
  if (dropCount > 0) {
    if (drops.every(([r]) => r === 'unknown_alias')) {
      return { status: 'warn', detail: `${s.messages} Sparkplug messages, but no birth in ${seconds} s to resolve their aliases; the agent asks the edge node to rebirth` };
    }
    return { status: 'fail', detail: dropText };
  }
  if (s.messages > 0) return { status: 'warn', detail: `${s.messages} messages in ${seconds} s, none with this metric` };
  return { status: 'warn', detail: `no traffic in ${seconds} s` };
}

async function connectProbe(source: MqttSourceConfig, clientId: string): Promise<MqttClient> {
  const attempt = (version: 4 | 5) =>
    mqtt.connectAsync(source.url, { ...mqttClientOptions(source, clientId, version, true), connectTimeout: 10_000 }, false);
  try {
    return await attempt(5);
  } catch (err) {
    const e = err as Error & { code?: unknown };
    if (isProtocolVersionRejected(e)) {
      try {
        return await attempt(4);
      } catch (err4) {
        throw new VigilError('VIGIL_MQTT_CONNECT_FAILED', explainConnectError(err4 as Error, source.url), { cause: err4, retryable: true });
      }
    }
    throw new VigilError('VIGIL_MQTT_CONNECT_FAILED', explainConnectError(e, source.url), { cause: e, retryable: true });
  }
}
