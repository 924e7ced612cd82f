import type { TagState } from '../tags/tag-table.js';

/** /tags?format=text: a fixed-width table an OT engineer can read with curl. */
export function renderTagsTable(tags: readonly TagState[], now = Date.now()): string {
  const rows = tags.map((t) => [
    t.tag,
    t.source,
    t.value === null ? '—' : formatValue(t.value),
    t.quality ?? 'no data',
    t.ts === null ? '—' : `${formatAge(now - t.ts)} ago`,
    String(t.samples),
    t.lastError ?? '',
  ]);
  const header = ['TAG', 'SOURCE', 'VALUE', 'QUALITY', 'AGE', 'SAMPLES', 'LAST ERROR'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (Number.isInteger(v)) return String(v);
  return v.toPrecision(6).replace(/\.?0+$/, '');
}

function formatAge(ms: number): string {
  if (ms < 0) return '0 s';
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 1000)} s`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}
