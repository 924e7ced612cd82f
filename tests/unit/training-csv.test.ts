import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { csvSegment, parseTime, readCsvSeries } from '../../cloud-sync/training/csv-series.js';
import { VigilError } from '../../shared/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-training-csv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function csvFile(text: string): string {
  const file = join(dir, `data-${n++}.csv`);
  writeFileSync(file, text);
  return file;
}

async function expectError(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(VigilError);
  expect((err as VigilError).code).toBe(code);
  expect((err as VigilError).message).toMatch(message);
}

describe('readCsvSeries', () => {
  it('reads a ;-separated file with a datetime column (UTC), every numeric column, empty cells as missing', async () => {
    const file = csvFile('datetime;flow;pressure;state\n2020-03-09 10:14:33;32.5;1.2;run\n2020-03-09 10:14:34;;1.3;run\n2020-03-09 10:14:36;33;NaN;run\n');
    const csv = await readCsvSeries(file);
    expect(csv.timeColumn).toBe('datetime');
    expect(csv.tags).toEqual(['flow', 'pressure']);
    expect([...csv.ts]).toEqual([Date.UTC(2020, 2, 9, 10, 14, 33), Date.UTC(2020, 2, 9, 10, 14, 34), Date.UTC(2020, 2, 9, 10, 14, 36)]);
    expect([...csv.values.get('flow')!]).toEqual([32.5, NaN, 33]);
    expect([...csv.values.get('pressure')!]).toEqual([1.2, 1.3, NaN]);
  });

  it('reads a ,-separated file with Unix ms in a ts column, sorts the rows and keeps only the chosen tags', async () => {
    const file = csvFile('flow,ts,temp\n2,1773036002000,60.5\n1,1773036001000,60.1\n3,1773036003000,60.9\n');
    const csv = await readCsvSeries(file, { tags: ['temp'] });
    expect(csv.timeColumn).toBe('ts');
    expect(csv.tags).toEqual(['temp']);
    expect([...csv.ts]).toEqual([1773036001000, 1773036002000, 1773036003000]);
    expect([...csv.values.get('temp')!]).toEqual([60.1, 60.5, 60.9]);
    const segment = csvSegment(csv, ['temp']);
    expect(segment.source).toEqual({ kind: 'csv', name: file });
    expect(segment.series[0]!.ts).toBe(csv.ts);
  });

  it('keeps rows in [from, to)', async () => {
    const file = csvFile('time,x\n1000,1\n2000,2\n3000,3\n4000,4\n');
    const csv = await readCsvSeries(file, { from: 2_000_000, to: 4_000_000 });
    expect([...csv.values.get('x')!]).toEqual([2, 3]);
    await expectError(readCsvSeries(file, { from: 9_000_000 }), 'VIGIL_TRAINING_DATA_INVALID', /none of its 4 rows lies in the period/);
  });

  it('names the file and line of a value that is not a number', async () => {
    const file = csvFile('time,flow,pressure\n1000,1,2\n2000,1,2\n3000,abc,2\n');
    await expectError(readCsvSeries(file), 'VIGIL_TRAINING_DATA_INVALID', new RegExp(`^${escape(file)}:4: "abc" in column "flow" is not a number`));
  });

  it('names the file and line of a time that is not one', async () => {
    const file = csvFile('datetime;flow\n2020-03-09 10:14:33;1\nyesterday;2\n');
    await expectError(readCsvSeries(file), 'VIGIL_TRAINING_DATA_INVALID', new RegExp(`^${escape(file)}:3: "yesterday" in column "datetime" is not a time`));
  });

  it('names the file and line of a row with the wrong number of fields', async () => {
    const file = csvFile('time,flow,pressure\n1000,1,2\n2000,1\n');
    await expectError(readCsvSeries(file), 'VIGIL_TRAINING_DATA_INVALID', new RegExp(`^${escape(file)}:3: the CSV cannot be parsed`));
  });

  it('refuses a tag that is not a column, listing the header', async () => {
    const file = csvFile('time,flow\n1000,1\n');
    await expectError(readCsvSeries(file, { tags: ['flow', 'presure'] }), 'VIGIL_TRAINING_DATA_INVALID', /:1: no column "presure"; the header has "time", "flow"/);
  });

  it('refuses a file without data rows, and one that does not exist', async () => {
    await expectError(readCsvSeries(csvFile('time,flow\n')), 'VIGIL_TRAINING_DATA_INVALID', /no data rows/);
    await expectError(readCsvSeries(join(dir, 'missing.csv')), 'VIGIL_CONFIG_NOT_FOUND', /cannot read .*missing\.csv/);
  });
});

describe('parseTime', () => {
  it('reads ISO dates (UTC without a zone), Unix ms and Unix seconds', () => {
    expect(parseTime('2026-03-09T10:00:00Z')).toBe(Date.UTC(2026, 2, 9, 10));
    expect(parseTime('2026-03-09 10:00:00')).toBe(Date.UTC(2026, 2, 9, 10));
    expect(parseTime('2026-03-09 10:00:00+01:00')).toBe(Date.UTC(2026, 2, 9, 9));
    expect(parseTime('2026-03-09')).toBe(Date.UTC(2026, 2, 9));
    expect(parseTime('1773036000000')).toBe(1773036000000);
    expect(parseTime('1773036000')).toBe(1773036000000);
    expect(parseTime('soon')).toBeNull();
    expect(parseTime('')).toBeNull();
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
