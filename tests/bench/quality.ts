import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ScoringClient } from '../../agent/scoring/scoring-client.js';
import { packTrainedModel } from '../../cloud-sync/training/trained-package.js';
import { DEFAULT_TRAINING_METHOD, trainModel, type TrainingMethod } from '../../cloud-sync/training/train-model.js';
import type { TrainingSegment } from '../../cloud-sync/training/training-data.js';
import { replayThroughAgent, type ReplayOutcome } from './quality/agent-replay.js';
import { addConfusion, confusion, detectionFigures, emptyConfusion, type Confusion } from './quality/detection-metrics.js';
import { readSkabFile, skabFiles, type SkabFile } from './quality/skab-files.js';

/**
 * `npm run bench:quality [folder]`: detection quality on SKAB with the
 * published protocol (../shared/docs/PERFORMANCE.md). Per file: train on the
 * first 400 rows with `trainModel` (robust scaling, window features, PCA
 * T² + Q, thresholds from held-out windows), export to ONNX and pack, then
 * replay every row through the agent's pieces (deployPackage → ModelHost:
 * event-time windows, onnxruntime-node in the scoring worker → EpisodeTracker)
 * one row at a time. A scored point (row ≥ 400) is predicted anomalous when
 * an episode was open at the moment the point arrived (its own window had
 * been judged): the causal reading the protocol asks for, and the headline
 * F1 / FAR / MAR over all scored points of all files, beside SKAB's
 * leaderboard. Also printed: the hindsight reading (inside an episode's
 * final span, whose start is back-dated to its first window) and the false
 * alarms on anomaly-free.csv.
 *
 * ONE setting for all files (below). `--set key=value` changes it for a run
 * (window, hop, openAfter, closeAfter, mergeGapMs, minDurationMs, or a
 * training method parameter such as margin=2.5 or features=mean,spread).
 */

const TRAIN_ROWS = 400;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const LEADERBOARD: Array<[string, number, number, number]> = [
  ['Conv-AE', 0.78, 13.55, 28.02],
  ['MSET', 0.78, 39.73, 14.13],
  ['T-squared+Q (PCA)', 0.76, 26.62, 24.92],
  ['LSTM-AE', 0.74, 29.96, 25.92],
];

interface Setting {
  windowLength: number;
  hop: number;
  openAfter: number;
  closeAfter: number;
  mergeGapMs: number;
  minDurationMs: number;
  method: TrainingMethod;
}

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    set: { type: 'string', multiple: true, default: [] },
    'anomaly-free': { type: 'string' },
  },
});

const folder = resolve(positionals[0] ?? join(ROOT, '../shared/data/skab/valve1'));
const anomalyFree = opts['anomaly-free'] ?? join(dirname(folder), 'anomaly-free.csv');
const setting = applySets(
  { windowLength: 30, hop: 1, openAfter: 2, closeAfter: 3, mergeGapMs: 60_000, minDurationMs: 0, method: { ...DEFAULT_TRAINING_METHOD } },
  opts.set ?? [],
);
const out = (line = '') => process.stdout.write(line + '\n');

function applySets(base: Setting, sets: string[]): Setting {
  const s: Setting = { ...base, method: { ...base.method } };
  for (const item of sets) {
    const [key, raw] = item.split('=') as [string, string | undefined];
    if (raw === undefined) throw new Error(`--set ${item}: expected key=value`);
    if (key === 'window') s.windowLength = Number(raw);
    else if (key === 'hop' || key === 'openAfter' || key === 'closeAfter' || key === 'mergeGapMs' || key === 'minDurationMs') s[key] = Number(raw);
    else if (key === 'features') s.method.features = raw.split(',') as TrainingMethod['features'];
    else if (key in s.method) (s.method as unknown as Record<string, number>)[key] = Number(raw);
    else throw new Error(`--set ${item}: unknown key "${key}"`);
  }
  return s;
}

function head(file: SkabFile, rows: number): TrainingSegment {
  return {
    source: { kind: 'csv', name: basename(file.path) },
    series: file.sensors.map((tag) => ({ tag, ts: file.ts.subarray(0, rows), values: file.values.get(tag)!.subarray(0, rows) })),
  };
}

async function runFile(client: ScoringClient, file: SkabFile, name: string, trainRows = TRAIN_ROWS): Promise<{ replay: ReplayOutcome; thresholds: { warn: number; alarm: number }; components: number }> {
  const trained = trainModel({
    name,
    version: '1.0.0',
    tags: file.sensors,
    samplePeriodMs: 1000,
    windowLength: setting.windowLength,
    hop: setting.hop,
    normal: [head(file, trainRows)],
    method: setting.method,
    episodes: { openAfter: setting.openAfter, closeAfter: setting.closeAfter, mergeGapMs: setting.mergeGapMs, minDurationMs: setting.minDurationMs },
  });
  const { bytes, manifest } = await packTrainedModel(trained);
  const replay = await replayThroughAgent(client, { packageBytes: bytes, manifest, ts: file.ts, values: file.values });
  return { replay, thresholds: manifest.thresholds, components: trained.scorer.pca.components };
}

function pct(v: number): string {
  return v.toFixed(2).padStart(6);
}

function figuresText(c: Confusion): string {
  const f = detectionFigures(c);
  return `${f.f1.toFixed(3)}  ${pct(f.farPct)}  ${pct(f.marPct)}`;
}

const started = performance.now();
const files = skabFiles(folder);
if (files.length === 0) throw new Error(`no CSV files in ${folder}`);
out(`bench:quality — ${folder} (${files.length} files), train on the first ${TRAIN_ROWS} rows of each, score the rest through the agent`);
out(`setting (one for all files): window ${setting.windowLength} × 1 s, hop ${setting.hop}; episodes openAfter ${setting.openAfter}, closeAfter ${setting.closeAfter}, mergeGap ${setting.mergeGapMs} ms, minDuration ${setting.minDurationMs} ms`);
out(`method: ${JSON.stringify(setting.method)}`);
out();
out('file       rows  anomalous  episodes  thresholds (warn/alarm)  k   span: F1    FAR %   MAR %   at arrival: F1    FAR %   MAR %');

const client = await ScoringClient.start({ maxBatch: 256, intraOpThreads: 1 });
const span = emptyConfusion();
const arrival = emptyConfusion();
try {
  for (const [i, path] of files.entries()) {
    const file = await readSkabFile(path);
    const { replay, thresholds, components } = await runFile(client, file, `skab-${i}`);
    const cSpan = confusion(file.labels, replay.inEpisode, TRAIN_ROWS);
    const cArrival = confusion(file.labels, replay.openAtArrival, TRAIN_ROWS);
    addConfusion(span, cSpan);
    addConfusion(arrival, cArrival);
    const scoredRows = file.ts.length - TRAIN_ROWS;
    const anomalous = cSpan.tp + cSpan.fn;
    out(
      `${file.name.padEnd(9)} ${String(scoredRows).padStart(5)}  ${String(anomalous).padStart(9)}  ${String(replay.episodes.length).padStart(8)}  ${`${thresholds.warn} / ${thresholds.alarm}`.padEnd(23)}  ${components}   ${figuresText(cSpan)}      ${figuresText(cArrival)}`,
    );
  }

  const total = detectionFigures(span);
  const strict = detectionFigures(arrival);
  out();
  out('all scored points            F1     FAR %   MAR %');
  out(`Vigil (open at arrival)      ${figuresText(arrival)}   ← the figure: causal, judged when each point arrived`);
  out(`Vigil (episode span)         ${figuresText(span)}   (hindsight: an episode's span back-dated to its first window)`);
  for (const [name, f1, far, mar] of LEADERBOARD) out(`${name.padEnd(28)} ${f1.toFixed(2)}   ${pct(far)}  ${pct(mar)}   (SKAB leaderboard)`);
  // The target is judged on the causal reading: a point counts only if an episode was already open when it arrived.
  const targetMet = strict.f1 >= 0.8 && strict.farPct <= 20;
  out(targetMet ? 'target F1 ≥ 0.80 with FAR ≤ 20 % (open at arrival, causal): met' : `MISS target F1 ≥ 0.80 with FAR ≤ 20 % (open at arrival: F1 ${strict.f1.toFixed(3)}, FAR ${strict.farPct.toFixed(2)} %)`);

  // SKAB's protocol trains on 400 s; a plant would give an hour or more of normal operation. Both, on data with no anomaly.
  const free: Array<{ trainRows: number; farPct: number; episodes: number; hours: number }> = [];
  if (existsSync(anomalyFree)) {
    const file = await readSkabFile(anomalyFree);
    for (const trainRows of [TRAIN_ROWS, 3600]) {
      if (file.ts.length < trainRows * 2) continue;
      const { replay } = await runFile(client, file, `skab-anomaly-free-${trainRows}`, trainRows);
      const c = confusion(file.labels, replay.inEpisode, trainRows);
      const hours = ((file.ts[file.ts.length - 1] as number) - (file.ts[trainRows] as number)) / 3_600_000;
      free.push({ trainRows, farPct: detectionFigures(c).farPct, episodes: replay.episodes.length, hours });
      out(`anomaly-free.csv, trained on its first ${trainRows} rows: ${replay.episodes.length} episode(s) in the following ${hours.toFixed(1)} h of normal operation; ${detectionFigures(c).farPct.toFixed(2)} % of those points inside one`);
    }
  }
  out(`took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  out(
    `RESULT ${JSON.stringify({
      f1: round(strict.f1),
      far_pct: round(strict.farPct),
      mar_pct: round(strict.marPct),
      files: files.length,
      reading: 'open at arrival (causal)',
      f1_span: round(total.f1),
      far_pct_span: round(total.farPct),
      mar_pct_span: round(total.marPct),
      ...Object.fromEntries(free.flatMap((f) => [[`anomaly_free_far_pct_train${f.trainRows}`, round(f.farPct)], [`anomaly_free_episodes_train${f.trainRows}`, f.episodes]])),
      targets_met: targetMet,
      window: setting.windowLength,
      hop: setting.hop,
      method: setting.method,
    })}`,
  );
} finally {
  await client.close();
}

function round(v: number): number {
  return Math.round(v * 10_000) / 10_000;
}
