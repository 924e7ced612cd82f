import type { MqttTagConfig } from '../../config/schema.js';
import { NameTemplate } from './name-template.js';
import { JsonSampleReader } from './payload-json.js';
import { sparkplugMatchFilter, sparkplugSubscriptions } from './sparkplug.js';
import { topicFilterProblem } from './topic-match.js';

/** One configured MQTT tag line, compiled: everything the per-message path needs is precomputed. */
export interface TagRule {
  config: MqttTagConfig;
  template: NameTemplate;
  format: MqttTagConfig['format'];
  json: JsonSampleReader | undefined;
  /** Sparkplug metric name, `*` for all, undefined for other formats. */
  metric: string | undefined;
  /** Filter incoming topics are matched against. */
  matchFilter: string;
  /** Filters to subscribe to. */
  subscriptions: string[];
  qos: 0 | 1 | 2;
}

export interface RuleProblem {
  tag: string;
  message: string;
}

function compileRule(config: MqttTagConfig): TagRule {
  const template = new NameTemplate(config.name);
  const problem = topicFilterProblem(config.topic);
  if (problem) throw new Error(`topic ${config.topic}: ${problem}`);
  if (template.usesName && config.json?.name === undefined) {
    throw new Error(`tag name ${config.name} uses {name} but json.name is not set; add json: { name: <path of the name field> }`);
  }
  if (template.usesMetric && config.format !== 'sparkplug') throw new Error(`tag name ${config.name} uses {metric}, which only format sparkplug fills`);
  if (config.metric === '*' && !template.usesMetric) {
    throw new Error(`metric * takes every metric, so the tag name needs {metric} (e.g. ${config.name}.{metric}) to tell them apart`);
  }
  const sparkplug = config.format === 'sparkplug';
  return {
    config,
    template,
    format: config.format,
    json: config.format === 'json' ? new JsonSampleReader(config.json) : undefined,
    metric: sparkplug ? config.metric : undefined,
    matchFilter: sparkplug ? sparkplugMatchFilter(config.topic) : config.topic,
    subscriptions: sparkplug ? sparkplugSubscriptions(config.topic) : [config.topic],
    qos: config.qos,
  };
}

/** Compiles every tag; a tag that cannot work is reported and left out, the others still run. */
export function compileTagRules(tags: readonly MqttTagConfig[]): { rules: TagRule[]; problems: RuleProblem[] } {
  const rules: TagRule[] = [];
  const problems: RuleProblem[] = [];
  for (const tag of tags) {
    try {
      rules.push(compileRule(tag));
    } catch (err) {
      problems.push({ tag: tag.name, message: (err as Error).message });
    }
  }
  return { rules, problems };
}

/** Every filter to subscribe to, with the highest QoS any tag asked for. */
export function subscriptionMap(rules: readonly TagRule[]): Record<string, { qos: 0 | 1 | 2 }> {
  const out: Record<string, { qos: 0 | 1 | 2 }> = {};
  for (const r of rules) {
    for (const topic of r.subscriptions) {
      const prev = out[topic];
      if (!prev || prev.qos < r.qos) out[topic] = { qos: r.qos };
    }
  }
  return out;
}
