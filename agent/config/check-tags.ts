import type { KeyPath, Position, PositionTarget } from '../../shared/yaml-positions.js';
import type { ConfigIssue } from './config-error.js';
import { didYouMeanSuffix } from './did-you-mean.js';
import { describeFound, explainZodIssues, formatPath } from './explain-zod-issues.js';
import { displayPath } from './format-issues.js';
import { MqttTagSchema, OpcuaTagSchema, type MqttTagConfig, type OpcuaTagConfig, type Origin } from './schema.js';

/** A tag as written, inline or in a tag file, with a way to locate its keys. */
export interface TagEntry {
  data: unknown;
  file: string;
  /** Index in its file's list; shown as `tags[index]`. */
  index: number;
  locate(sub: KeyPath, target: PositionTarget): Position;
}

export interface CheckedTags {
  issues: ConfigIssue[];
  opcuaTags: Array<OpcuaTagConfig & { origin: Origin }>;
  mqttTags: Array<MqttTagConfig & { origin: Origin }>;
}

const KIND_WORDS = { opcua: 'an OPC UA', mqtt: 'an MQTT' } as const;

/**
 * Validates each tag against the schema of its source's type (not a union of
 * both, whose errors would read "fits neither"), then checks what spans tags:
 * sources that exist and have the right type, unique names, name templates.
 */
export function checkTags(entries: readonly TagEntry[], sourceTypes: ReadonlyMap<string, 'opcua' | 'mqtt'>): CheckedTags {
  const result: CheckedTags = { issues: [], opcuaTags: [], mqttTags: [] };
  const firstByName = new Map<string, Origin>();

  for (const entry of entries) {
    const base = `tags[${entry.index}]`;
    const push = (sub: KeyPath, message: string, target: PositionTarget = 'value', hint?: string) =>
      result.issues.push({ file: entry.file, ...entry.locate(sub, target), path: sub.length ? `${base}${pathSuffix(sub)}` : base, message, ...(hint ? { hint } : {}) });

    const data = entry.data;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      push([], `expected a tag (a group of keys: name, source, nodeId or topic, …); found ${describeFound(data)}`);
      continue;
    }
    const tag = data as Record<string, unknown>;
    const origin: Origin = { file: entry.file, ...entry.locate([], 'value') };

    if (typeof tag.name === 'string') {
      const first = firstByName.get(tag.name);
      if (first) push(['name'], `duplicate tag name ${tag.name}; first defined at ${displayPath(first.file)}:${first.line}`, 'value', 'tag names must be unique across the configuration and all tag files');
      else firstByName.set(tag.name, origin);
    }

    const byKeys = 'nodeId' in tag ? 'opcua' : 'topic' in tag ? 'mqtt' : undefined;
    const sourceType = typeof tag.source === 'string' ? sourceTypes.get(tag.source) : undefined;
    if (typeof tag.source === 'string' && !sourceType) {
      const known = [...sourceTypes.keys()];
      push(['source'], `unknown source "${tag.source}"${didYouMeanSuffix(tag.source, known)}`, 'value', known.length ? `sources defined: ${known.join(', ')}` : 'no sources are defined; add one under sources:');
    }
    if (sourceType && byKeys && sourceType !== byKeys) {
      const key = byKeys === 'opcua' ? 'nodeId' : 'topic';
      push([key], `this tag has ${key}, so it is ${KIND_WORDS[byKeys]} tag, but source "${String(tag.source)}" is ${KIND_WORDS[sourceType]} source`, 'key',
        byKeys === 'opcua' ? 'OPC UA tags (nodeId) need a source of type opcua' : 'MQTT tags (topic) need a source of type mqtt');
    }
    // The keys written decide when they contradict the source: the errors then
    // describe the tag as the person meant it.
    const kind = byKeys ?? sourceType;
    if (!kind) {
      push([], 'a tag needs nodeId (to read an OPC UA node) or topic (to read MQTT messages)', 'value', 'add nodeId: nsu=…;s=… or topic: plant/…');
      continue;
    }

    if (kind === 'opcua') {
      const parsed = OpcuaTagSchema.safeParse(tag);
      if (!parsed.success) {
        for (const e of explainZodIssues(OpcuaTagSchema, tag, parsed.error.issues, ['tags', entry.index])) push(e.path, e.message, e.target, e.hint);
        continue;
      }
      if (sourceType === 'opcua') result.opcuaTags.push({ ...parsed.data, origin });
    } else {
      const parsed = MqttTagSchema.safeParse(tag);
      if (!parsed.success) {
        for (const e of explainZodIssues(MqttTagSchema, tag, parsed.error.issues, ['tags', entry.index])) push(e.path, e.message, e.target, e.hint);
        continue;
      }
      for (const problem of templateProblems(parsed.data)) push(['name'], problem);
      if (sourceType === 'mqtt') result.mqttTags.push({ ...parsed.data, origin });
    }
  }
  return result;
}

/**
 * Placeholders in an MQTT tag name that can never be filled: `{7}` for a topic
 * with 3 segments, `{name}` without a json.name field, `{metric}` outside Sparkplug.
 */
export function templateProblems(tag: MqttTagConfig): string[] {
  const problems: string[] = [];
  const segments = tag.topic.split('/');
  const multiLevel = segments.includes('#');
  for (const match of tag.name.matchAll(/\{([^}]*)\}/g)) {
    const placeholder = match[1] ?? '';
    if (/^\d+$/.test(placeholder)) {
      const n = Number(placeholder);
      if (n >= segments.length && !multiLevel) {
        problems.push(`the name uses {${n}}, but the topic ${tag.topic} has ${segments.length} segment${segments.length === 1 ? '' : 's'} ({0} to {${segments.length - 1}})`);
      }
    } else if (placeholder === 'name') {
      if (tag.format !== 'json' || !tag.json?.name) problems.push('the name uses {name}, which needs format json and json.name (the payload field holding the name)');
    } else if (placeholder === 'metric') {
      if (tag.format !== 'sparkplug') problems.push(`the name uses {metric}, which only applies to format sparkplug (format is ${tag.format})`);
    } else {
      problems.push(`the name uses {${placeholder}}; expected {N} (topic segment N, from 0), {name} or {metric}`);
    }
  }
  return problems;
}

function pathSuffix(sub: KeyPath): string {
  const formatted = formatPath(sub);
  return typeof sub[0] === 'number' ? formatted : `.${formatted}`;
}
