import { describe, expect, it } from 'vitest';
import { TagTable } from '../../agent/tags/tag-table.js';
import { renderTagsTable } from '../../agent/http/tags-view.js';

describe('TagTable', () => {
  it('lists configured tags before data arrives, then keeps the newest value', () => {
    const table = new TagTable();
    table.configure([
      { name: 'pump1.temp', source: 'plc1' },
      { name: 'line1.{2}.temp', source: 'broker' },
    ]);
    expect(table.list().map((t) => [t.tag, t.samples, t.quality])).toEqual([['pump1.temp', 0, null]]);
    table.consume([
      { tag: 'pump1.temp', ts: 2000, value: 42, quality: 'good' },
      { tag: 'pump1.temp', ts: 1000, value: 41, quality: 'uncertain' },
      { tag: 'line1.a.temp', ts: 1500, value: 7, quality: 'bad' },
    ]);
    const pump = table.get('pump1.temp');
    expect(pump).toMatchObject({ value: 42, ts: 2000, quality: 'good', samples: 2 });
    expect(table.get('line1.a.temp')).toMatchObject({ source: 'broker', configured: 'line1.{2}.temp', samples: 1 });
    expect(table.counts()).toMatchObject({ configured: 2, live: 1 });
  });

  it('shows and clears the last error of a tag', () => {
    const table = new TagTable();
    table.configure([{ name: 'x', source: 's' }]);
    table.tagError('x', 'BadNodeIdUnknown: no such node');
    expect(table.get('x')?.lastError).toBe('BadNodeIdUnknown: no such node');
    expect(renderTagsTable(table.list())).toMatch(/x\s+s\s+—\s+no data\s+—\s+0\s+BadNodeIdUnknown/);
    table.tagError('x', undefined);
    expect(table.get('x')?.lastError).toBeNull();
  });

  it('bounds the number of tags a template can create', () => {
    const table = new TagTable(3);
    table.configure([{ name: 'a.{1}', source: 's' }]);
    table.consume(Array.from({ length: 5 }, (_, i) => ({ tag: `a.${i}`, ts: i, value: i, quality: 'good' as const })));
    expect(table.list()).toHaveLength(3);
    expect(table.counts().overflowed).toBe(2);
  });
});
