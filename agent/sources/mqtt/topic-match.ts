/**
 * Topic filter matching for the per-message hot path. Filters are compiled
 * once into a trie of topic levels; a topic is split only the first time it is
 * seen, after which the answer comes from a bounded cache (plants publish on a
 * fixed set of topics, so the cache hit rate is close to 100 %).
 */

interface TrieNode<T> {
  children: Map<string, TrieNode<T>>;
  plus: TrieNode<T> | undefined;
  /** Rules whose filter ends with `#` at this level (match this level and below). */
  hash: T[];
  /** Rules whose filter ends exactly at this level. */
  end: T[];
}

function newNode<T>(): TrieNode<T> {
  return { children: new Map(), plus: undefined, hash: [], end: [] };
}

/** Why a topic filter is not valid MQTT, or undefined when it is. */
export function topicFilterProblem(filter: string): string | undefined {
  if (filter.length === 0) return 'the topic is empty';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return '# must be a whole level and the last one, e.g. plant/#';
    if (level.includes('+') && level !== '+') return '+ must be a whole level, e.g. plant/+/temp';
  }
  return undefined;
}

export interface TopicMatch<T> {
  rules: readonly T[];
  /** The topic split into levels, shared by every rule that matched. */
  levels: readonly string[];
}

const NO_RULES: readonly never[] = Object.freeze([]);

export class TopicMatcher<T> {
  private readonly root: TrieNode<T> = newNode();
  private readonly cache = new Map<string, TopicMatch<T>>();
  private readonly order = new Map<T, number>();

  /** @param cacheSize topics remembered; beyond it the cache is cleared (cheap, and a fixed topic set refills it at once). */
  constructor(private readonly cacheSize = 10_000) {}

  add(filter: string, rule: T): void {
    const problem = topicFilterProblem(filter);
    if (problem) throw new Error(`topic filter ${filter}: ${problem}`);
    if (!this.order.has(rule)) this.order.set(rule, this.order.size);
    let node = this.root;
    const levels = filter.split('/');
    for (const level of levels) {
      if (level === '#') {
        node.hash.push(rule);
        this.cache.clear();
        return;
      }
      if (level === '+') {
        node.plus ??= newNode();
        node = node.plus;
      } else {
        let child = node.children.get(level);
        if (!child) {
          child = newNode();
          node.children.set(level, child);
        }
        node = child;
      }
    }
    node.end.push(rule);
    this.cache.clear();
  }

  /** Rules matching a topic, in the order they were added. */
  match(topic: string): TopicMatch<T> {
    const cached = this.cache.get(topic);
    if (cached) return cached;
    const levels = topic.split('/');
    const found: T[] = [];
    // MQTT-4.7.2-1: wildcards at the first level do not match topics starting with $.
    const system = topic.charCodeAt(0) === 36; /* $ */
    this.walk(this.root, levels, 0, found, system);
    const result: TopicMatch<T> = { rules: found.length ? this.inOrder(found) : NO_RULES, levels };
    if (this.cache.size >= this.cacheSize) this.cache.clear();
    this.cache.set(topic, result);
    return result;
  }

  private orderOf(rule: T): number {
    return this.order.get(rule) ?? Number.MAX_SAFE_INTEGER;
  }

  private inOrder(found: T[]): T[] {
    // Deduplicate (a rule can be reached twice only if added twice) and keep insertion order stable.
    const unique = [...new Set(found)];
    if (unique.length > 1) unique.sort((a, b) => this.orderOf(a) - this.orderOf(b));
    return unique;
  }

  private walk(node: TrieNode<T>, levels: string[], i: number, out: T[], system: boolean): void {
    const wildOk = !(system && i === 0);
    if (wildOk) for (const r of node.hash) out.push(r);
    if (i === levels.length) {
      for (const r of node.end) out.push(r);
      return;
    }
    const child = node.children.get(levels[i]!);
    if (child) this.walk(child, levels, i + 1, out, system);
    if (node.plus && wildOk) this.walk(node.plus, levels, i + 1, out, system);
  }
}
