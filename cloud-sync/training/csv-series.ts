import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { parse } from 'csv-parse';
import { describeError, VigilError } from '../../shared/errors.js';
import type { TrainingSegment } from './training-data.js';
import type { TrainingProgress } from './training-progress.js';

/** A CSV file of recorded tag values: one row per time, one column per tag. */
export interface CsvSeries {
  file: string;
  /** Header of the time column. */
  timeColumn: string;
  /** The tag columns read, in file order. */
  tags: string[];
  /** Row times in ms since the Unix epoch, ascending. */
  ts: Float64Array;
  /** Per tag, the value of each row (NaN where the cell was empty). */
  values: Map<string, Float64Array>;
}

export interface CsvReadOptions {
  /** Tag columns to read; default every column whose first value is a number. */
  tags?: readonly string[];
  /** Only rows at or after `from` and before `to` (ms since the Unix epoch). */
  from?: number;
  to?: number;
  onProgress?: (p: TrainingProgress) => void;
}

const TIME_HEADERS = /^(date[ _-]?time|timestamp|time|ts|date)$/i;
const MISSING = /^(|nan|null|na|n\/a)$/i;
const PROGRESS_EVERY = 50_000;

/**
 * Reads a CSV file of tag values for training. The separator is `;` or `,`
 * (whichever the header has more of); the time column is the one headed
 * datetime / timestamp / time / ts / date, else the first. Times are
 * ISO 8601 dates (`2020-03-09 10:14:33` without a zone is taken as UTC, like
 * --from/--to) or Unix time as a number (ms; seconds when below 10¹¹). Empty,
 * NaN and null cells are missing values. Rows are sorted by time. Every
 * problem names the file and line: a row with the wrong number of fields, a
 * time or a tag value that is not one, a tag that is not a column.
 * Throws VigilError VIGIL_CONFIG_NOT_FOUND (unreadable) or VIGIL_TRAINING_DATA_INVALID.
 */
export async function readCsvSeries(file: string, options: CsvReadOptions = {}): Promise<CsvSeries> {
  const head = await readHead(file);
  const firstLine = head.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '';
  const delimiter = count(firstLine, ';') > count(firstLine, ',') ? ';' : ',';
  const parser = createReadStream(file).pipe(parse({ delimiter, info: true, bom: true, trim: true, skip_empty_lines: true }));

  let header: string[] | null = null;
  let timeIndex = 0;
  let columns: Array<{ tag: string; index: number }> = [];
  const ts: number[] = [];
  const values: number[][] = [];
  let rows = 0;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const line = info.lines;
      if (header === null) {
        header = record;
        timeIndex = Math.max(0, header.findIndex((h) => TIME_HEADERS.test(h)));
        continue;
      }
      if (columns.length === 0) columns = chooseColumns(file, line, header, timeIndex, record, options.tags);
      rows++;
      if (rows % PROGRESS_EVERY === 0) options.onProgress?.({ phase: 'read', done: rows, total: 0, unit: `rows of ${file}` });
      const time = parseTime(record[timeIndex] ?? '');
      if (time === null) throw invalid(file, line, `"${record[timeIndex]}" in column "${header[timeIndex]}" is not a time; write an ISO date such as 2026-03-09 10:14:33 or Unix time in ms`);
      if ((options.from !== undefined && time < options.from) || (options.to !== undefined && time >= options.to)) continue;
      const row = columns.map(({ tag, index }) => {
        const text = record[index] ?? '';
        if (MISSING.test(text)) return NaN;
        const value = Number(text);
        if (!Number.isFinite(value)) throw invalid(file, line, `"${text}" in column "${tag}" is not a number (an empty cell, NaN or null is a missing value)`);
        return value;
      });
      ts.push(time);
      values.push(row);
    }
  } catch (err) {
    if (err instanceof VigilError) throw err;
    const e = err as { code?: string; lines?: number };
    if (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EISDIR') throw new VigilError('VIGIL_CONFIG_NOT_FOUND', `cannot read ${file}: ${describeError(err)}`, { cause: err });
    throw invalid(file, e.lines ?? 0, `the CSV cannot be parsed: ${describeError(err)}`, err);
  }
  if (header === null || rows === 0) throw invalid(file, 1, 'the file has no data rows (a header row, then one row per time)');
  if (ts.length === 0) throw invalid(file, 1, `none of its ${rows} rows lies in the period asked for`);

  const order = Array.from(ts.keys());
  if (!ts.every((t, i) => i === 0 || t >= (ts[i - 1] as number))) order.sort((a, b) => (ts[a] as number) - (ts[b] as number));
  const sortedTs = Float64Array.from(order, (i) => ts[i] as number);
  const byTag = new Map<string, Float64Array>();
  columns.forEach(({ tag }, c) => byTag.set(tag, Float64Array.from(order, (i) => values[i]![c] as number)));
  return { file, timeColumn: header[timeIndex] ?? '', tags: columns.map((c) => c.tag), ts: sortedTs, values: byTag };
}

/** A CSV file's tags as one training segment (a CSV file is one continuous recording). */
export function csvSegment(csv: CsvSeries, tags: readonly string[], kind: 'csv' | 'normal-extra' = 'csv'): TrainingSegment {
  return {
    source: { kind, name: csv.file },
    series: tags.map((tag) => {
      const values = csv.values.get(tag);
      if (!values) throw new VigilError('VIGIL_TRAINING_DATA_INVALID', `${csv.file} has no column "${tag}"; its tag columns are ${csv.tags.map((t) => `"${t}"`).join(', ')}`);
      return { tag, ts: csv.ts, values };
    }),
  };
}

/**
 * Tag columns: the ones asked for (each must be a header), or by default every
 * column except the time whose value in the first data row is a number.
 */
function chooseColumns(file: string, line: number, header: string[], timeIndex: number, firstRow: string[], wanted: readonly string[] | undefined): Array<{ tag: string; index: number }> {
  if (wanted) {
    const missing = wanted.filter((t) => !header.includes(t));
    if (missing.length > 0) throw invalid(file, 1, `no column ${missing.map((t) => `"${t}"`).join(', ')}; the header has ${header.map((h) => `"${h}"`).join(', ')}`);
    return wanted.map((tag) => ({ tag, index: header.indexOf(tag) }));
  }
  const numeric = header.map((tag, index) => ({ tag, index })).filter(({ index }) => index !== timeIndex && Number.isFinite(Number(firstRow[index])) && !MISSING.test(firstRow[index] ?? ''));
  if (numeric.length === 0) throw invalid(file, line, 'no column holds numbers in the first data row; name the tag columns with --tags');
  return numeric;
}

/** ms since the Unix epoch, or null. A number is Unix time (seconds when below 1e11, else ms); a date without a zone is UTC. */
export function parseTime(text: string): number | null {
  if (text === '') return null;
  const n = Number(text);
  if (Number.isFinite(n)) return n < 1e11 ? n * 1000 : n;
  const iso = text.replace(' ', 'T');
  const zoned = /(?:Z|[+-]\d\d:?\d\d)$/i.test(iso) ? iso : /T\d/.test(iso) ? `${iso}Z` : iso;
  const ms = Date.parse(zoned);
  return Number.isFinite(ms) ? ms : null;
}

async function readHead(file: string): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
    const buffer = Buffer.alloc(65536);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } catch (err) {
    throw new VigilError('VIGIL_CONFIG_NOT_FOUND', `cannot read ${file}: ${describeError(err)}`, { cause: err });
  } finally {
    await handle?.close();
  }
}

function count(text: string, char: string): number {
  return text.split(char).length - 1;
}

function invalid(file: string, line: number, message: string, cause?: unknown): VigilError {
  return new VigilError('VIGIL_TRAINING_DATA_INVALID', `${file}:${line}: ${message}`, { details: { file, line }, ...(cause === undefined ? {} : { cause }) });
}
