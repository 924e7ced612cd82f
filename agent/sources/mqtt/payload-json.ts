import type { Quality } from '../../../shared/sample.js';
import { coerceNumber } from './payload-number.js';

/**
 * JSON payloads: field paths are compiled once per tag rule into getters, and
 * the timestamp and quality rules live here so that every JSON sample is read
 * the same way.
 */

export type PathGetter = (obj: unknown) => unknown;

/** A getter for a dotted path such as `data.v`; array indexes are written as levels (`values.0`). */
export function compilePath(path: string): PathGetter {
  const keys = path.split('.');
  if (keys.some((k) => k.length === 0)) throw new Error(`JSON path ${path}: empty level; write e.g. data.value`);
  if (keys.length === 1) {
    const k = keys[0]!;
    return (obj) => (obj !== null && typeof obj === 'object' ? (obj as Record<string, unknown>)[k] : undefined);
  }
  if (keys.length === 2) {
    const [a, b] = keys as [string, string];
    return (obj) => {
      if (obj === null || typeof obj !== 'object') return undefined;
      const mid = (obj as Record<string, unknown>)[a];
      return mid !== null && typeof mid === 'object' ? (mid as Record<string, unknown>)[b] : undefined;
    };
  }
  return (obj) => {
    let cur: unknown = obj;
    for (const k of keys) {
      if (cur === null || typeof cur !== 'object') return undefined;
      cur = (cur as Record<string, unknown>)[k];
    }
    return cur;
  };
}

/** Epoch seconds below this, epoch milliseconds above (1e11 s is the year 5138; 1e11 ms is 1973). */
const MS_THRESHOLD = 1e11;

/** Milliseconds since the epoch for a timestamp field, or undefined when it cannot be read. */
export function parseTimestamp(v: unknown): number | undefined {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) return undefined;
    return v > MS_THRESHOLD ? v : v * 1000;
  }
  if (typeof v === 'string') {
    const t = v.trim();
    if (t.length === 0) return undefined;
    // A number sent as text is still a number, not a date.
    const n = Number(t);
    if (Number.isFinite(n)) return parseTimestamp(n);
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

/** OPC UA StatusCode severity lives in the top two bits: 00 good, 01 uncertain, 1x bad. */
export function qualityOfStatusCode(code: number): Quality {
  const severity = (code >>> 30) & 0b11;
  if (severity === 0) return 'good';
  if (severity === 1) return 'uncertain';
  return 'bad';
}

/** Quality of a quality field, or undefined when it cannot be read. */
export function parseQuality(v: unknown): Quality | undefined {
  switch (typeof v) {
    case 'string': {
      const s = v.trim().toLowerCase();
      if (s === 'good' || s === 'ok') return 'good';
      if (s === 'uncertain') return 'uncertain';
      if (s === 'bad') return 'bad';
      return undefined;
    }
    case 'boolean':
      return v ? 'good' : 'bad';
    case 'number':
      return Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? qualityOfStatusCode(v) : undefined;
    default:
      return undefined;
  }
}

export type JsonSampleResult =
  | { ok: true; value: number; ts: number; quality: Quality; name: string | undefined }
  | { ok: false; reason: 'not_a_number' | 'missing_value' | 'invalid_timestamp' | 'invalid_quality' | 'not_an_object' };

export interface JsonFieldsConfig {
  value?: string | undefined;
  timestamp?: string | undefined;
  quality?: string | undefined;
  name?: string | undefined;
}

/** Reads value, timestamp, quality and name of one JSON object with compiled paths. */
export class JsonSampleReader {
  private readonly value: PathGetter;
  private readonly timestamp: PathGetter | undefined;
  private readonly quality: PathGetter | undefined;
  private readonly name: PathGetter | undefined;
  /** One result object reused per call: the hot path allocates nothing here. */
  private readonly out = { ok: true as const, value: 0, ts: 0, quality: 'good' as Quality, name: undefined as string | undefined };

  constructor(fields: JsonFieldsConfig = {}) {
    this.value = compilePath(fields.value ?? 'value');
    this.timestamp = fields.timestamp ? compilePath(fields.timestamp) : undefined;
    this.quality = fields.quality ? compilePath(fields.quality) : undefined;
    this.name = fields.name ? compilePath(fields.name) : undefined;
  }

  /** The result is only valid until the next call. */
  read(obj: unknown, receivedAt: number): JsonSampleResult {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return { ok: false, reason: 'not_an_object' };
    const raw = this.value(obj);
    if (raw === undefined) return { ok: false, reason: 'missing_value' };
    const value = coerceNumber(raw);
    if (value === undefined) return { ok: false, reason: 'not_a_number' };
    let ts = receivedAt;
    if (this.timestamp) {
      const rawTs = this.timestamp(obj);
      if (rawTs !== undefined) {
        const parsed = parseTimestamp(rawTs);
        if (parsed === undefined) return { ok: false, reason: 'invalid_timestamp' };
        ts = parsed;
      }
    }
    let quality: Quality = 'good';
    if (this.quality) {
      const rawQ = this.quality(obj);
      if (rawQ !== undefined) {
        const q = parseQuality(rawQ);
        if (q === undefined) return { ok: false, reason: 'invalid_quality' };
        quality = q;
      }
    }
    let name: string | undefined;
    if (this.name) {
      const rawName = this.name(obj);
      name = typeof rawName === 'string' ? rawName : typeof rawName === 'number' ? String(rawName) : undefined;
    }
    const out = this.out;
    out.value = value;
    out.ts = ts;
    out.quality = quality;
    out.name = name;
    return out;
  }
}
