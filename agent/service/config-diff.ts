import { isDeepStrictEqual } from 'node:util';
import type { ResolvedConfig, SourceConfig } from '../config/schema.js';

/** What differs between the running configuration and a new one, in the terms a reload acts on. */
export interface ConfigDiff {
  /**
   * Sources by name. `changed`: its own settings or any of its tags changed
   * (added, removed, edited or moved to or from it); such a source is
   * restarted, the others are not touched.
   */
  sources: { added: string[]; removed: string[]; changed: string[] };
  /** Tags by name; a tag is `changed` when any setting but its position in the file differs. */
  tags: { added: string[]; removed: string[]; changed: string[] };
  /**
   * Dotted keys outside sources and tags that differ (`http.port`,
   * `hub.url`, `models.dir`…). They are read once at start: they take effect
   * at the next restart.
   */
  needsRestart: string[];
}

type AnyTag = ResolvedConfig['opcuaTags'][number] | ResolvedConfig['mqttTags'][number];

/** Sections read once at start, compared key by key. */
const RESTART_SECTIONS = ['agent', 'http', 'log', 'pipeline', 'models', 'store', 'hub'] as const;

export function diffConfig(running: ResolvedConfig, next: ResolvedConfig): ConfigDiff {
  const tagsBefore = tagsByName(running);
  const tagsAfter = tagsByName(next);
  const tags = compareByName(tagsBefore, tagsAfter, (a, b) => isDeepStrictEqual(withoutOrigin(a), withoutOrigin(b)));

  const sourcesBefore = new Map(running.sources.map((s): [string, SourceConfig] => [s.name, s]));
  const sourcesAfter = new Map(next.sources.map((s): [string, SourceConfig] => [s.name, s]));
  // A source whose tags changed is restarted with its new tag list.
  const touched = new Set<string>();
  for (const name of [...tags.added, ...tags.removed, ...tags.changed]) {
    const before = tagsBefore.get(name)?.source;
    const after = tagsAfter.get(name)?.source;
    if (before !== undefined) touched.add(before);
    if (after !== undefined) touched.add(after);
  }
  const sources = compareByName(sourcesBefore, sourcesAfter, (a, b) => isDeepStrictEqual(a, b) && !touched.has(a.name));

  const needsRestart: string[] = [];
  for (const section of RESTART_SECTIONS) changedKeys(running[section], next[section], section, needsRestart);
  return { sources, tags, needsRestart };
}

export function isEmptyDiff(diff: ConfigDiff): boolean {
  const { sources, tags } = diff;
  return [sources.added, sources.removed, sources.changed, tags.added, tags.removed, tags.changed, diff.needsRestart].every((list) => list.length === 0);
}

/** One line for the log: `sources +a -b ~c; tags +x -y ~z`. */
export function describeDiff(diff: ConfigDiff): string {
  const part = (what: string, d: { added: string[]; removed: string[]; changed: string[] }) => {
    const items = [...d.added.map((n) => `+${n}`), ...d.removed.map((n) => `-${n}`), ...d.changed.map((n) => `~${n}`)];
    return items.length > 0 ? `${what} ${items.join(' ')}` : '';
  };
  return [part('sources', diff.sources), part('tags', diff.tags)].filter(Boolean).join('; ') || 'no source or tag changes';
}

function tagsByName(config: ResolvedConfig): Map<string, AnyTag> {
  return new Map([...config.opcuaTags, ...config.mqttTags].map((t): [string, AnyTag] => [t.name, t]));
}

// Inserting a line above a tag moves it without changing it.
function withoutOrigin(tag: AnyTag): Omit<AnyTag, 'origin'> {
  const { origin: _origin, ...rest } = tag;
  return rest;
}

function compareByName<T>(before: Map<string, T>, after: Map<string, T>, same: (a: T, b: T) => boolean) {
  const added: string[] = [];
  const removed: string[] = [];
  const changed: string[] = [];
  for (const [name, value] of after) {
    const old = before.get(name);
    if (old === undefined) added.push(name);
    else if (!same(old, value)) changed.push(name);
  }
  for (const name of before.keys()) if (!after.has(name)) removed.push(name);
  return { added: added.sort(), removed: removed.sort(), changed: changed.sort() };
}

/** Leaf paths where two plain values differ (objects are walked, anything else compared whole). */
function changedKeys(a: unknown, b: unknown, path: string, out: string[]): void {
  if (isDeepStrictEqual(a, b)) return;
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) changedKeys(a[key], b[key], `${path}.${key}`, out);
    return;
  }
  out.push(path);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
