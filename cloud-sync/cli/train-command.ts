import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { readModelPackage } from '../../agent/models/package-file.js';
import { describeError, VigilError } from '../../shared/errors.js';
import { modelKey, type ModelManifest } from '../../shared/model-manifest.js';
import { csvSegment, parseTime, readCsvSeries, type CsvSeries } from '../training/csv-series.js';
import { packTrainedModel } from '../training/trained-package.js';
import { trainModel, type TrainedModel, type TrainingMethod } from '../training/train-model.js';
import { throttledProgress } from '../training/training-progress.js';
import { FEATURE_KINDS, type FeatureKind } from '../training/window-features.js';

type Out = (line: string) => void;

export interface TrainCommandOptions {
  csv: string[];
  normalExtra?: string[];
  tags?: string;
  from?: string;
  to?: string;
  periodMs?: number;
  window?: number;
  hop?: number;
  name?: string;
  version?: string;
  description?: string;
  parent?: string;
  features?: string;
  margin?: number;
  quantile?: number;
  varianceShare?: number;
  out?: string;
}

const DEFAULT_WINDOW = 30;
const DEFAULT_HOP = 1;

/**
 * `vigil model train --csv <file> … --name <name> [--out dir]`: learns normal
 * behaviour from recorded CSV data, exports the model to ONNX and writes
 * `<name>-<version>.vmodel` (temporary name, then rename, so --out may be an
 * agent's model folder). With --parent, the parent package's tags, grid,
 * window and episode settings are the defaults and the minor version is
 * bumped. Prints progress for long runs, the thresholds and a summary.
 * Returns the exit code.
 */
export async function runModelTrain(opts: TrainCommandOptions, out: Out): Promise<number> {
  const progress = throttledProgress(out);
  try {
    const parent = opts.parent ? await readParent(opts.parent) : undefined;
    const from = timeOption('--from', opts.from);
    const to = timeOption('--to', opts.to);
    const wantedTags = opts.tags ? splitList(opts.tags) : parent?.tags;
    if (opts.csv.length === 0) throw usage('give at least one --csv file of normal operation');

    const normal: CsvSeries[] = [];
    for (const file of opts.csv) normal.push(await readCsvSeries(file, { ...(wantedTags ? { tags: wantedTags } : {}), ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }), onProgress: progress }));
    const tags = wantedTags ?? normal[0]!.tags;
    const extra: CsvSeries[] = [];
    for (const file of opts.normalExtra ?? []) extra.push(await readCsvSeries(file, { tags, onProgress: progress }));

    const name = opts.name ?? parent?.name;
    if (!name) throw usage('give the model a --name (lower-case letters, digits, . _ -), or a --parent package to retrain');
    const samplePeriodMs = opts.periodMs ?? parent?.samplePeriodMs ?? typicalSpacing(normal[0]!);
    const method: Partial<TrainingMethod> = {
      ...(opts.features ? { features: featureList(opts.features) } : {}),
      ...(opts.margin === undefined ? {} : { margin: opts.margin }),
      ...(opts.quantile === undefined ? {} : { quantile: opts.quantile }),
      ...(opts.varianceShare === undefined ? {} : { varianceShare: opts.varianceShare }),
    };
    out(`training ${name} on ${tags.length} tags (${tags.join(', ')}) from ${normal.map((c) => `${c.file} (${c.ts.length} rows)`).join(', ')}`);
    const trained = trainModel({
      name,
      version: opts.version ?? (parent ? nextMinor(parent.version) : '1.0.0'),
      ...(opts.description ? { description: opts.description } : {}),
      tags,
      samplePeriodMs,
      windowLength: opts.window ?? parent?.windowLength ?? DEFAULT_WINDOW,
      hop: opts.hop ?? parent?.hop ?? DEFAULT_HOP,
      normal: normal.map((c) => csvSegment(c, tags)),
      extraNormal: extra.map((c) => csvSegment(c, tags, 'normal-extra')),
      method,
      ...(parent ? { parent: modelKey(parent), missingData: parent.missingData, episodes: parent.episodes } : {}),
      onProgress: progress,
    });
    const packed = await packTrainedModel(trained);
    const target = await outputPath(opts.out, `${packed.manifest.name}-${packed.manifest.version}.vmodel`);
    await writeAtomically(target, packed.bytes);
    printSummary(out, trained, packed.manifest, target, packed.bytes.length);
    return 0;
  } catch (err) {
    out(`✖ ${err instanceof VigilError ? err.message : describeError(err)}`);
    return 1;
  }
}

function printSummary(out: Out, trained: TrainedModel, manifest: ModelManifest, target: string, size: number): void {
  const c = trained.calibration;
  const pca = trained.scorer.pca;
  out(`✔ ${modelKey(manifest)} → ${target} (${(size / 1024).toFixed(1)} KiB)`);
  out(`  thresholds    warn ≥ ${manifest.thresholds.warn}, alarm ≥ ${manifest.thresholds.alarm}  (a typical normal window scores about 1)`);
  out(`  calibration   ${c.heldOutWindows} held-out windows scored by a model fitted on ${c.fitWindows} others: quantile ${trained.method.quantile} = ${c.heldOutQuantileScore.toFixed(3)} (highest ${c.heldOutMaxScore.toFixed(3)}) × margin ${trained.method.margin}`);
  out(`  windows       ${manifest.windowLength} × ${manifest.samplePeriodMs} ms every ${manifest.hop}; ${trained.windows.sufficient} fitted${trained.windows.insufficient ? `, ${trained.windows.insufficient} left out for missing data` : ''}`);
  out(`  model         PCA T² + Q on ${trained.featureNames.length} features (${trained.method.features.join(', ')} per tag): ${pca.components} components explain ${(100 * pca.explainedShare).toFixed(1)} %`);
  for (const s of manifest.lineage?.sources ?? []) out(`  data          ${s.kind} ${s.name}: ${new Date(s.from).toISOString()} – ${new Date(s.to).toISOString()}, ${s.windows} windows`);
  if (manifest.lineage?.parent) out(`  parent        ${manifest.lineage.parent}`);
  out(`  check it with: vigil model check ${target} --config <agent.yaml>`);
}

async function readParent(file: string): Promise<ModelManifest> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new VigilError('VIGIL_CONFIG_NOT_FOUND', `cannot read the --parent package ${file}: ${describeError(err)}`, { cause: err });
  }
  return readModelPackage(bytes, file).manifest;
}

function timeOption(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseTime(text);
  if (ms === null) throw usage(`${flag} "${text}" is not a time; write an ISO date such as 2026-03-09 10:14:33 (UTC unless it has a zone) or Unix time in ms`);
  return ms;
}

function featureList(text: string): FeatureKind[] {
  const kinds = splitList(text);
  const unknown = kinds.filter((k) => !(FEATURE_KINDS as readonly string[]).includes(k));
  if (unknown.length > 0) throw usage(`--features: ${unknown.map((k) => `"${k}"`).join(', ')} unknown; choose from ${FEATURE_KINDS.join(', ')}`);
  return kinds as FeatureKind[];
}

function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

/** The median spacing of a file's rows, in whole ms: the grid the data was recorded on. */
function typicalSpacing(csv: CsvSeries): number {
  const gaps: number[] = [];
  for (let i = 1; i < csv.ts.length; i++) {
    const d = (csv.ts[i] as number) - (csv.ts[i - 1] as number);
    if (d > 0) gaps.push(d);
  }
  if (gaps.length === 0) throw usage(`${csv.file}: the rows' times do not tell the sample period; give --period-ms`);
  gaps.sort((a, b) => a - b);
  return Math.max(1, Math.round(gaps[Math.floor(gaps.length / 2)]!));
}

function nextMinor(version: string): string {
  const [major, minor] = version.split(/[.+-]/).map(Number);
  return `${major ?? 0}.${(minor ?? 0) + 1}.0`;
}

export async function outputPath(requested: string | undefined, defaultName: string): Promise<string> {
  if (!requested) return resolve(defaultName);
  const target = resolve(requested);
  const isDir = requested.endsWith('/') || (await stat(target).then((s) => s.isDirectory(), () => false));
  return isDir ? join(target, defaultName) : target;
}

/** Temporary dotfile next to the target, then rename: a model folder never sees half a package. */
export async function writeAtomically(target: string, bytes: Uint8Array): Promise<void> {
  const temporary = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  try {
    await writeFile(temporary, bytes);
    await rename(temporary, target);
  } catch (err) {
    await rm(temporary, { force: true });
    throw new Error(`cannot write ${target}: ${describeError(err)}`, { cause: err });
  }
}

function usage(message: string): VigilError {
  return new VigilError('VIGIL_CONFIG_INVALID', message);
}
