/**
 * Plain-number payloads (`41.2`, `true`) and the one rule every format shares
 * for turning a decoded value into a sample value: numbers as they are,
 * booleans as 0/1, numeric strings as numbers; anything else is not a number.
 */

/** The numeric value of a decoded field, or undefined when it has none. */
export function coerceNumber(v: unknown): number | undefined {
  switch (typeof v) {
    case 'number':
      return Number.isFinite(v) ? v : undefined;
    case 'boolean':
      return v ? 1 : 0;
    case 'string':
      return numericString(v);
    case 'bigint':
      return Number(v);
    default:
      return undefined;
  }
}

function numericString(s: string): number | undefined {
  const t = s.trim();
  // Number('') is 0 and Number('0x1f') is 31: neither is what a plant meant.
  if (t.length === 0) return undefined;
  if (t === 'true') return 1;
  if (t === 'false') return 0;
  const c = t.charCodeAt(t.length > 1 ? 1 : 0);
  if (c === 120 /* x */ || c === 88 || c === 111 /* o */ || c === 98 /* b */) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** The value of a plain-number payload, or undefined when it is not one. */
export function parseNumberPayload(payload: Buffer): number | undefined {
  // Longer than any number a PLC would print: not worth decoding.
  if (payload.length === 0 || payload.length > 64) return undefined;
  return numericString(payload.toString('latin1'));
}
