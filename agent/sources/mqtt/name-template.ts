/**
 * Tag name templates, compiled once per tag rule. `{N}` is topic level N
 * (0-based); `{group}`, `{node}`, `{device}` are the Sparkplug topic levels;
 * `{name}` comes from the JSON name field and `{metric}` from the Sparkplug
 * metric name. Topic placeholders are filled once per topic (the source caches
 * the result), payload placeholders once per sample — and a name without
 * placeholders is never rebuilt at all.
 */

const NAME = -1;
const METRIC = -2;
/** Sparkplug topic levels: spBv1.0/<group>/<type>/<node>/<device>. */
const SPARKPLUG_LEVELS: Record<string, number> = { group: 1, node: 3, device: 4 };

type Part = string | number;

export class NameTemplate {
  /** The name itself when it has no placeholders. */
  readonly constant: string | undefined;
  readonly usesName: boolean;
  readonly usesMetric: boolean;
  /** Highest topic level referenced, -1 when none. */
  readonly maxLevel: number;
  private readonly parts: Part[];

  constructor(readonly source: string) {
    this.parts = parseTemplate(source);
    this.usesName = this.parts.includes(NAME);
    this.usesMetric = this.parts.includes(METRIC);
    this.maxLevel = Math.max(-1, ...this.parts.filter((p): p is number => typeof p === 'number' && p >= 0));
    this.constant = this.parts.every((p) => typeof p === 'string') ? this.parts.join('') : undefined;
  }

  /** Fills the topic placeholders; undefined when the topic has too few levels. */
  bind(levels: readonly string[]): BoundName | undefined {
    if (this.constant !== undefined) return new BoundName([this.constant]);
    if (this.maxLevel >= levels.length) return undefined;
    const out: Part[] = [];
    for (const p of this.parts) {
      if (typeof p === 'number' && p >= 0) appendText(out, levels[p]!);
      else if (typeof p === 'string') appendText(out, p);
      else out.push(p);
    }
    return new BoundName(out);
  }
}

function appendText(out: Part[], text: string): void {
  const last = out.length - 1;
  if (last >= 0 && typeof out[last] === 'string') out[last] = (out[last] as string) + text;
  else out.push(text);
}

/** A name with its topic placeholders filled; payload placeholders remain. */
export class BoundName {
  /** The finished name when nothing from the payload is needed. */
  readonly complete: string | undefined;

  constructor(private readonly parts: Part[]) {
    this.complete = parts.length === 1 && typeof parts[0] === 'string' ? parts[0] : undefined;
  }

  /** The name for one sample; undefined when a needed payload field is missing. */
  fill(name: string | undefined, metric: string | undefined): string | undefined {
    if (this.complete !== undefined) return this.complete;
    let s = '';
    for (const p of this.parts) {
      if (typeof p === 'string') s += p;
      else if (p === NAME) {
        if (name === undefined || name === '') return undefined;
        s += name;
      } else {
        if (metric === undefined || metric === '') return undefined;
        s += metric;
      }
    }
    return s;
  }
}

function parseTemplate(source: string): Part[] {
  const parts: Part[] = [];
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf('{', i);
    if (open < 0) {
      appendText(parts, source.slice(i));
      break;
    }
    if (open > i) appendText(parts, source.slice(i, open));
    const close = source.indexOf('}', open);
    if (close < 0) throw new Error(`tag name ${source}: "{" at position ${open} is not closed; write e.g. line1.{2}.temp`);
    const key = source.slice(open + 1, close);
    if (/^\d+$/.test(key)) parts.push(Number(key));
    else if (key === 'name') parts.push(NAME);
    else if (key === 'metric') parts.push(METRIC);
    else if (key in SPARKPLUG_LEVELS) parts.push(SPARKPLUG_LEVELS[key]!);
    else throw new Error(`tag name ${source}: unknown placeholder {${key}}; use {0}, {1}, … (topic levels), {name}, {metric}, {group}, {node} or {device}`);
    i = close + 1;
  }
  return parts;
}
