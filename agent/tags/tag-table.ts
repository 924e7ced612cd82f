import type { Quality, Sample } from '../../shared/sample.js';
import type { TagStatusReporter } from '../sources/source.js';

export interface TagState {
  tag: string;
  source: string;
  /** The configured name or template this tag came from (differs for MQTT templates). */
  configured: string;
  value: number | null;
  ts: number | null;
  quality: Quality | null;
  samples: number;
  lastError: string | null;
  lastErrorAt: number | null;
}

export interface ConfiguredTag {
  name: string;
  source: string;
}

const PLACEHOLDER = /\{[^}]+\}/;

/**
 * Last value per tag, for /tags. Configured tags are listed before any data
 * arrives (so a tag that never delivers is visible at once); tags produced by
 * MQTT name templates appear when their first sample does.
 */
export class TagTable implements TagStatusReporter {
  private readonly tags = new Map<string, TagState>();
  private readonly templates: Array<ConfiguredTag & { pattern: RegExp }> = [];
  /** Bounds memory when a template matches an unbounded set of topics. */
  constructor(private readonly maxTags = 200_000) {}

  private overflowed = 0;

  configure(configured: readonly ConfiguredTag[]): void {
    for (const c of configured) {
      if (PLACEHOLDER.test(c.name)) {
        this.templates.push({ ...c, pattern: templatePattern(c.name) });
        continue;
      }
      const state = this.tags.get(c.name);
      if (!state) this.tags.set(c.name, emptyState(c.name, c.source, c.name));
      else if (state.source !== c.source || state.configured !== c.name) {
        // Seen before it was configured (a sample that raced a reload): now it has its source.
        state.source = c.source;
        state.configured = c.name;
      }
    }
  }

  /**
   * Replaces the configured tags (a configuration reload): tags no longer
   * configured, and tags discovered through a template that is gone, are
   * removed with their values; the others keep theirs, counts included.
   */
  reconfigure(configured: readonly ConfiguredTag[]): void {
    const names = new Set(configured.map((c) => c.name));
    this.templates.length = 0;
    this.configure(configured);
    for (const [tag, state] of this.tags) {
      if (state.configured === tag) {
        if (!names.has(tag)) this.tags.delete(tag);
        continue;
      }
      const template = this.templates.find((t) => t.name === state.configured && t.pattern.test(tag));
      if (template) state.source = template.source;
      else this.tags.delete(tag);
    }
  }

  /** Pipeline consumer: keeps the newest value (by source timestamp) of each tag. */
  readonly consume = (batch: readonly Sample[]): void => {
    for (const sample of batch) {
      let state = this.tags.get(sample.tag);
      if (!state) {
        if (this.tags.size >= this.maxTags) {
          this.overflowed++;
          continue;
        }
        const template = this.templates.find((t) => t.pattern.test(sample.tag));
        state = emptyState(sample.tag, template?.source ?? '', template?.name ?? sample.tag);
        this.tags.set(sample.tag, state);
      }
      state.samples++;
      if (state.ts === null || sample.ts >= state.ts) {
        state.value = sample.value;
        state.ts = sample.ts;
        state.quality = sample.quality;
      }
    }
  };

  tagError(tag: string, message: string | undefined): void {
    let state = this.tags.get(tag);
    if (!state) {
      if (this.tags.size >= this.maxTags) return;
      state = emptyState(tag, '', tag);
      this.tags.set(tag, state);
    }
    state.lastError = message ?? null;
    state.lastErrorAt = message === undefined ? null : Date.now();
  }

  list(): TagState[] {
    return [...this.tags.values()].sort((a, b) => a.tag.localeCompare(b.tag));
  }

  get(tag: string): TagState | undefined {
    return this.tags.get(tag);
  }

  counts(): { configured: number; live: number; overflowed: number } {
    let live = 0;
    for (const s of this.tags.values()) if (s.samples > 0 && s.quality !== 'bad') live++;
    return { configured: this.tags.size, live, overflowed: this.overflowed };
  }
}

function emptyState(tag: string, source: string, configured: string): TagState {
  return { tag, source, configured, value: null, ts: null, quality: null, samples: 0, lastError: null, lastErrorAt: null };
}

/** `line1.{2}.temp` → /^line1\..+\.temp$/: which template a discovered tag came from. */
export function templatePattern(template: string): RegExp {
  const parts = template.split(/\{[^}]+\}/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.+')}$`);
}
