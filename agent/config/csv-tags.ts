import { parse } from 'csv-parse/sync';
import type { KeyPath } from '../../shared/yaml-positions.js';
import { didYouMeanSuffix } from './did-you-mean.js';

/**
 * Tag files exported from a spreadsheet. One tag per row, a header row naming
 * the columns; an empty cell means "not set" so defaults apply. Columns that
 * hold nested keys in YAML are flattened (deadbandType → deadband.type,
 * valuePath → json.value).
 */
export const CSV_COLUMNS = {
  name: ['name'],
  source: ['source'],
  nodeId: ['nodeId'],
  samplingIntervalMs: ['samplingIntervalMs'],
  publishingIntervalMs: ['publishingIntervalMs'],
  queueSize: ['queueSize'],
  deadbandType: ['deadband', 'type'],
  deadbandValue: ['deadband', 'value'],
  topic: ['topic'],
  format: ['format'],
  valuePath: ['json', 'value'],
  timestampPath: ['json', 'timestamp'],
  qualityPath: ['json', 'quality'],
  namePath: ['json', 'name'],
  metric: ['metric'],
  qos: ['qos'],
  unit: ['unit'],
  description: ['description'],
} as const satisfies Record<string, readonly string[]>;

type ColumnName = keyof typeof CSV_COLUMNS;
const COLUMN_NAMES = Object.keys(CSV_COLUMNS) as ColumnName[];
const NUMERIC_COLUMNS = new Set<ColumnName>(['samplingIntervalMs', 'publishingIntervalMs', 'queueSize', 'deadbandValue', 'qos']);

/** A problem in a CSV tag file, with its 1-based line and column (cell index). */
export interface CsvIssue {
  line: number;
  column: number;
  path: string;
  message: string;
  hint?: string;
}

/** One data row turned into a tag object, ready for schema validation. */
export interface CsvTagRow {
  tag: Record<string, unknown>;
  /** Position among the data rows (0 = first row after the header); shown as `tags[index]`. */
  index: number;
  /** Line the row starts on. */
  line: number;
  /** Column (1-based cell index) that holds the value at a tag key path; 1 when no column does. */
  columnOf(path: KeyPath): number;
}

export interface CsvTags {
  rows: CsvTagRow[];
  issues: CsvIssue[];
}

export function parseCsvTags(text: string): CsvTags {
  const body = text.replace(/^\uFEFF/, '');
  const delimiter = detectDelimiter(body);
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    // With `info: true` each record comes wrapped with its line numbers; the
    // typings of csv-parse do not follow that option.
    records = parse(body, {
      delimiter,
      relax_column_count: true,
      info: true,
      skip_empty_lines: true,
      // `#` only starts a comment at the start of a line: topics contain `#`.
      comment: '#',
      comment_no_infix: true,
      trim: true,
    }) as unknown as typeof records;
  } catch (err) {
    const e = err as { lines?: number; message?: string };
    return { rows: [], issues: [{ line: e.lines ?? 1, column: 1, path: 'tags', message: `the CSV file cannot be read: ${e.message ?? String(err)}`, hint: 'check for an unclosed double quote' }] };
  }

  const issues: CsvIssue[] = [];
  const [headerRecord, ...dataRecords] = records;
  if (!headerRecord) return { rows: [], issues: [] };
  const header = readHeader(headerRecord.record, headerRecord.info.lines, issues);
  if (!header) return { rows: [], issues };

  const rows: CsvTagRow[] = [];
  let index = 0;
  for (const { record, info } of dataRecords) {
    // A spreadsheet exports rows that were merely formatted as `;;;;`.
    if (record.every((cell) => cell === '')) continue;
    const line = info.lines - record.reduce((n, cell) => n + (cell.match(/\n/g)?.length ?? 0), 0);
    const rowIndex = index++;
    const path = `tags[${rowIndex}]`;
    if (record.length !== header.cells.length) {
      issues.push(countMismatch(record, header.cells, line, path));
      continue;
    }
    const tag: Record<string, unknown> = {};
    record.forEach((cell, i) => {
      const column = header.columns[i];
      if (cell === '') return;
      if (header.ignored.has(i)) return;
      if (column === undefined) {
        issues.push({ line, column: i + 1, path, message: `row ${line} has the value "${cell}" in column ${i + 1}, which has no name in the header`, hint: 'add a column name to the header or empty the cell' });
        return;
      }
      setPath(tag, CSV_COLUMNS[column], NUMERIC_COLUMNS.has(column) ? toNumber(cell) : cell);
    });
    rows.push({ tag, index: rowIndex, line, columnOf: (keyPath) => header.columnOf(keyPath) });
  }
  return { rows, issues };
}

interface Header {
  cells: string[];
  /** Known column at each cell index; undefined for empty header cells. */
  columns: Array<ColumnName | undefined>;
  /** Cell indexes under an unknown column name: reported once, then ignored. */
  ignored: ReadonlySet<number>;
  columnOf(path: KeyPath): number;
}

function readHeader(cells: string[], line: number, issues: CsvIssue[]): Header | undefined {
  const columns: Array<ColumnName | undefined> = [];
  const seen = new Map<ColumnName, number>();
  const unknown = new Set<number>();
  let ok = true;
  cells.forEach((cell, i) => {
    if (cell === '') {
      columns.push(undefined);
      return;
    }
    // Spreadsheet users capitalise headings; the case of a column name does not matter.
    const column = COLUMN_NAMES.find((c) => c.toLowerCase() === cell.toLowerCase());
    if (!column) {
      // Reported, and its cells ignored, so the rows are still checked.
      issues.push({ line, column: i + 1, path: 'header', message: `unknown column "${cell}" in the header${didYouMeanSuffix(cell, COLUMN_NAMES)}`, hint: `known columns: ${COLUMN_NAMES.join(', ')}` });
      unknown.add(i);
    } else if (seen.has(column)) {
      issues.push({ line, column: i + 1, path: 'header', message: `column "${column}" appears twice in the header (first in column ${seen.get(column)})` });
      ok = false;
    } else {
      seen.set(column, i + 1);
    }
    columns.push(column);
  });
  for (const required of ['name', 'source'] as const) {
    if (!seen.has(required)) {
      issues.push({ line, column: 1, path: 'header', message: `the header has no "${required}" column; every tag needs a ${required}`, hint: 'the first row of a CSV tag file names the columns, e.g. name;source;nodeId' });
      ok = false;
    }
  }
  if (!ok) return undefined;
  return {
    cells,
    columns,
    ignored: unknown,
    columnOf(path) {
      // The column whose key path matches most of the issue's path.
      let best = 0;
      let bestLength = 0;
      columns.forEach((column, i) => {
        if (!column) return;
        const keys = CSV_COLUMNS[column];
        let n = 0;
        while (n < keys.length && n < path.length && keys[n] === path[n]) n++;
        if (n > bestLength) {
          best = i;
          bestLength = n;
        }
      });
      return bestLength > 0 ? best + 1 : 1;
    },
  };
}

function countMismatch(record: string[], header: string[], line: number, path: string): CsvIssue {
  const fewer = record.length < header.length;
  const detail = fewer
    ? `no cell for ${header.slice(record.length).filter((h) => h !== '').join(', ') || 'the last columns'}`
    : `extra cells: ${record.slice(header.length).map((c) => `"${c}"`).join(', ')}`;
  return {
    line,
    column: fewer ? record.length + 1 : header.length + 1,
    path,
    message: `row ${line} has ${record.length} cells, the header has ${header.length}: ${detail}`,
    hint: fewer
      ? 'every row needs a cell for every column; leave a cell empty (two separators in a row) for "not set"'
      : 'a separator too many, or a value containing the separator without double quotes around it',
  };
}

/** Picks `;` (European Excel), `,` or tab by counting them in the header line. */
function detectDelimiter(text: string): string {
  const headerLine = text.split(/\r?\n/).find((l) => l.trim() !== '' && !l.trimStart().startsWith('#')) ?? '';
  const counts: Record<string, number> = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  for (const ch of headerLine) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch in counts) counts[ch] = (counts[ch] ?? 0) + 1;
  }
  const [best, count] = Object.entries(counts).sort((a, b) => b[1] - a[1])[0] ?? [',', 0];
  return count > 0 ? best : ',';
}

/** Numbers as numbers; a decimal comma (0,5) is accepted. Anything else stays text so validation names it. */
function toNumber(cell: string): number | string {
  const normalised = /^-?\d+,\d+$/.test(cell) ? cell.replace(',', '.') : cell;
  if (/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(normalised)) return Number(normalised);
  return cell;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      node[key] = value;
    } else {
      node[key] ??= {};
      node = node[key] as Record<string, unknown>;
    }
  });
}
