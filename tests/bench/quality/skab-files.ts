import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readCsvSeries } from '../../../cloud-sync/training/csv-series.js';

/** SKAB's label columns; every other numeric column is a sensor. */
const LABEL_COLUMNS = ['anomaly', 'changepoint'];

export interface SkabFile {
  name: string;
  path: string;
  sensors: string[];
  ts: Float64Array;
  values: Map<string, Float64Array>;
  /** Per row: 1 anomalous, 0 normal (all 0 for anomaly-free.csv, which has no label). */
  labels: Float64Array;
}

/** The CSV files of a SKAB folder in numeric order (0.csv, 1.csv, … 15.csv). */
export function skabFiles(folder: string): string[] {
  const names = readdirSync(folder).filter((n) => n.endsWith('.csv'));
  const number = (n: string) => Number.parseFloat(n) || 0;
  return names.sort((a, b) => number(a) - number(b) || a.localeCompare(b)).map((n) => join(folder, n));
}

/** Reads one SKAB file with the trainer's own CSV reader (`;`-separated, datetime as UTC). */
export async function readSkabFile(path: string): Promise<SkabFile> {
  const csv = await readCsvSeries(path);
  const sensors = csv.tags.filter((t) => !LABEL_COLUMNS.includes(t));
  const labels = csv.values.get('anomaly') ?? new Float64Array(csv.ts.length);
  return { name: path.split('/').pop() ?? path, path, sensors, ts: csv.ts, values: csv.values, labels };
}
