import { describe, expect, it } from 'vitest';
import { compilePath, JsonSampleReader, parseQuality, parseTimestamp, qualityOfStatusCode } from '../../agent/sources/mqtt/payload-json.js';
import { coerceNumber, parseNumberPayload } from '../../agent/sources/mqtt/payload-number.js';

describe('JSON paths', () => {
  it('reads dotted paths of any depth, and array elements by index', () => {
    const obj = { value: 1, data: { v: 2, deep: { x: { y: 3 } } }, list: [{ v: 4 }] };
    expect(compilePath('value')(obj)).toBe(1);
    expect(compilePath('data.v')(obj)).toBe(2);
    expect(compilePath('data.deep.x.y')(obj)).toBe(3);
    expect(compilePath('list.0.v')(obj)).toBe(4);
    expect(compilePath('data.missing.x')(obj)).toBeUndefined();
    expect(compilePath('value.x')(obj)).toBeUndefined();
    expect(compilePath('a.b')(null)).toBeUndefined();
    expect(() => compilePath('a..b')).toThrow(/empty level/);
  });
});

describe('timestamps', () => {
  it('tells epoch milliseconds from epoch seconds', () => {
    expect(parseTimestamp(1_700_000_000_000)).toBe(1_700_000_000_000);
    expect(parseTimestamp(1_700_000_000)).toBe(1_700_000_000_000);
    expect(parseTimestamp(1_700_000_000.5)).toBe(1_700_000_000_500);
    expect(parseTimestamp('1700000000')).toBe(1_700_000_000_000);
  });

  it('reads ISO 8601 strings, with and without offset', () => {
    expect(parseTimestamp('2024-01-02T03:04:05Z')).toBe(Date.UTC(2024, 0, 2, 3, 4, 5));
    expect(parseTimestamp('2024-01-02T03:04:05.250+02:00')).toBe(Date.UTC(2024, 0, 2, 1, 4, 5, 250));
  });

  it('refuses what is not a time', () => {
    for (const bad of ['yesterday', '', -5, Number.NaN, null, {}, true]) expect(parseTimestamp(bad)).toBeUndefined();
  });
});

describe('quality', () => {
  it('maps strings, booleans and OPC UA status codes onto good/uncertain/bad', () => {
    expect(['good', 'GOOD', ' ok', 'uncertain', 'Bad'].map(parseQuality)).toEqual(['good', 'good', 'good', 'uncertain', 'bad']);
    expect([true, false].map(parseQuality)).toEqual(['good', 'bad']);
    expect(qualityOfStatusCode(0)).toBe('good');
    expect(qualityOfStatusCode(0x40920000)).toBe('uncertain');
    expect(qualityOfStatusCode(0x80340000)).toBe('bad');
    expect(parseQuality(0x80340000)).toBe('bad');
    expect(parseQuality('meh')).toBeUndefined();
    expect(parseQuality(-1)).toBeUndefined();
  });
});

describe('values', () => {
  it('takes numbers, booleans and numeric strings, nothing else', () => {
    expect([5, true, false, ' 2.5 ', '-1e3', 'false'].map(coerceNumber)).toEqual([5, 1, 0, 2.5, -1000, 0]);
    for (const bad of ['', ' ', 'abc', '0x1f', 'Infinity', null, undefined, {}, [1], Number.NaN]) expect(coerceNumber(bad)).toBeUndefined();
  });

  it('reads plain-number payloads', () => {
    expect(parseNumberPayload(Buffer.from('41.2\n'))).toBe(41.2);
    expect(parseNumberPayload(Buffer.from(''))).toBeUndefined();
    expect(parseNumberPayload(Buffer.from('1'.repeat(100)))).toBeUndefined();
  });
});

describe('JsonSampleReader', () => {
  const reader = new JsonSampleReader({ value: 'd.v', timestamp: 'ts', quality: 'q', name: 'id' });
  it('reads one sample, defaulting timestamp and quality when the fields are absent', () => {
    expect(reader.read({ d: { v: '7' }, ts: 1_700_000_000, q: 'bad', id: 'a' }, 5)).toEqual({ ok: true, value: 7, ts: 1_700_000_000_000, quality: 'bad', name: 'a' });
    expect(reader.read({ d: { v: 1 } }, 5)).toEqual({ ok: true, value: 1, ts: 5, quality: 'good', name: undefined });
  });
  it('says why a sample cannot be read', () => {
    expect(reader.read({ d: {} }, 0)).toEqual({ ok: false, reason: 'missing_value' });
    expect(reader.read({ d: { v: 'x' } }, 0)).toEqual({ ok: false, reason: 'not_a_number' });
    expect(reader.read({ d: { v: 1 }, ts: 'soon' }, 0)).toEqual({ ok: false, reason: 'invalid_timestamp' });
    expect(reader.read({ d: { v: 1 }, q: 'meh' }, 0)).toEqual({ ok: false, reason: 'invalid_quality' });
    expect(reader.read([1], 0)).toEqual({ ok: false, reason: 'not_an_object' });
    expect(reader.read(3, 0)).toEqual({ ok: false, reason: 'not_an_object' });
  });
});
