import { z } from 'zod';

/**
 * The manifest of a model package (format `vigil-model/1`): everything the
 * agent needs to window, score and judge a model's output, checked against the
 * ONNX file itself when the package loads. Packages are built with
 * `vigil model pack <onnx> <manifest>` and checked with `vigil model check`.
 */
export const MODEL_PACKAGE_FORMAT = 'vigil-model/1';

export const TENSOR_LAYOUTS = ['batch,time,tag', 'batch,tag,time'] as const;
export type TensorLayout = (typeof TENSOR_LAYOUTS)[number];

const semver = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

/** Kinds of training data a trained model can name in its lineage. */
export const LINEAGE_SOURCE_KINDS = ['csv', 'agent-history', 'normal-extra', 'resolution'] as const;

const LineageSchema = z.strictObject({
  trainedAt: z.string().min(1).describe('When the model was trained, ISO 8601 (UTC).'),
  method: z.string().min(1).describe('Training method and its revision, e.g. pca-t2q/1.'),
  parameters: z
    .record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.array(z.string())]))
    .default({})
    .describe('Method parameters as used (feature kinds, variance share, calibration quantile and margin, …).'),
  sources: z
    .array(
      z.strictObject({
        kind: z.enum(LINEAGE_SOURCE_KINDS).describe('csv: a CSV file; agent-history: an agent\'s raw history; normal-extra: more data known to be normal; resolution: an episode answered as normal operation.'),
        name: z.string().min(1).describe('The file, agent id or episode id the data came from.'),
        from: z.number().int().describe('First sample used, in ms since the Unix epoch.'),
        to: z.number().int().describe('Last sample used, in ms since the Unix epoch.'),
        windows: z.number().int().nonnegative().describe('Windows of this source the model was fitted or calibrated on.'),
        note: z
          .string()
          .min(1)
          .optional()
          .describe("How the data was read when that matters: an answered episode's raw history or only its downsampled snapshot, a parent's source read again only in part or not at all (windows 0)."),
      }),
    )
    .default([])
    .describe('The data the model learned normal behaviour from, one entry per source.'),
  parent: z.string().min(1).optional().describe('name@version of the model this one was retrained from; absent for a first model.'),
  resolutionsUsed: z.number().int().nonnegative().default(0).describe('Episodes answered as normal operation whose data was added to the normal set. Default 0.'),
});

export const ModelManifestSchema = z
  .strictObject({
    format: z.literal(MODEL_PACKAGE_FORMAT).describe(`Manifest format; always ${MODEL_PACKAGE_FORMAT}.`),
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lower-case letters, digits, . _ - (e.g. pump-station-pca)').describe('Model name; versions of one model share it.'),
    version: z.string().regex(semver, 'a semantic version such as 1.4.0').describe('Semantic version of this package; immutable once published.'),
    description: z.string().default('').describe('What the model watches, in words a plant user understands.'),
    input: z
      .strictObject({
        name: z.string().min(1).describe('Name of the ONNX input tensor.'),
        dtype: z.enum(['float32', 'float64']).describe('Element type of the input tensor.'),
        layout: z.enum(TENSOR_LAYOUTS).describe('Axis order of the input: batch,time,tag or batch,tag,time (channels first).'),
      })
      .describe('The one input tensor the model takes.'),
    tags: z.array(z.string().min(1)).min(1).describe('Agent tag names, in the order of the tag axis of the input.'),
    samplePeriodMs: z.number().int().positive().describe('Grid period every tag is resampled to, in milliseconds.'),
    windowLength: z.number().int().positive().describe('Samples per window (length of the time axis).'),
    hop: z.number().int().positive().describe('A window is emitted every hop samples.'),
    missingData: z
      .strictObject({
        forwardFillMaxAgeMs: z.number().int().nonnegative().optional().describe('A grid cell without a sample takes the last value if it is at most this old, in milliseconds. Default 3 × samplePeriodMs.'),
        maxFilledShare: z.number().min(0).max(1).default(0.2).describe('A window with a larger share of forward-filled cells is insufficient data. Default 0.2.'),
        maxBadShare: z.number().min(0).max(1).default(0.1).describe('A window with a larger share of bad-quality or missing cells is insufficient data. Default 0.1.'),
      })
      .default({ maxFilledShare: 0.2, maxBadShare: 0.1 })
      .describe('When a window has too little real data to be scored.'),
    normalization: z
      .strictObject({
        mean: z.array(z.number()).describe('Per tag, subtracted first.'),
        std: z.array(z.number().positive()).describe('Per tag, divided by after the mean is subtracted.'),
      })
      .optional()
      .describe('Per-tag scaling applied before the model: (x - mean) / std. Omit when the model scales by itself.'),
    output: z
      .strictObject({
        score: z.string().min(1).describe('Name of the output holding the anomaly score per window (higher is worse).'),
        reduce: z.enum(['none', 'squeeze']).default('none').describe('none: the score output is [N]; squeeze: it is [N,1] and the trailing axis is dropped.'),
        contributions: z.string().min(1).optional().describe('Name of an optional [N, tags] output with each tag\'s share of the score.'),
      })
      .describe('Which outputs hold the score and the per-tag contributions.'),
    thresholds: z
      .strictObject({
        warn: z.number().describe('A score at or above this is a warning.'),
        alarm: z.number().describe('A score at or above this is an alarm.'),
      })
      .describe('Levels of the score.'),
    episodes: z
      .strictObject({
        openAfter: z.number().int().positive().default(2).describe('Consecutive alarm windows that open an episode. Default 2.'),
        closeAfter: z.number().int().positive().default(3).describe('Consecutive windows below warn (or insufficient data) that close an open episode. Default 3.'),
        mergeGapMs: z.number().int().nonnegative().default(60_000).describe('An episode that starts less than this after the previous one ended continues it, in milliseconds. Default 60000.'),
        minDurationMs: z.number().int().nonnegative().default(0).describe('Closed episodes shorter than this are dropped (counted, never sent), in milliseconds. Default 0.'),
        snapshotBeforeMs: z.number().int().nonnegative().default(300_000).describe("Raw values of the model's tags are kept from this long before the episode start, in milliseconds. Default 300000."),
        snapshotMaxPoints: z.number().int().positive().default(500).describe('Most points per tag in the snapshot (downsampled beyond). Default 500.'),
      })
      .default({ openAfter: 2, closeAfter: 3, mergeGapMs: 60_000, minDurationMs: 0, snapshotBeforeMs: 300_000, snapshotMaxPoints: 500 })
      .describe('How alarm windows become episodes a plant user is asked about.'),
    onnx: z
      .strictObject({
        file: z
          .string()
          .regex(/^(?!manifest\.json$)[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'a plain file name such as model.onnx (letters, digits, . _ -; not manifest.json)')
          .default('model.onnx')
          .describe('File name of the ONNX model inside the package. Default model.onnx.'),
        sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits').describe('SHA-256 of the ONNX file, in hex. `vigil model pack` fills it in when it is left out.'),
      })
      .describe('The ONNX file and its checksum.'),
    lineage: LineageSchema.optional().describe('Where a trained model came from: data, method, parent version, answers learned from. Written by `vigil model train`; informational, the agent does not use it.'),
  })
  .superRefine((m, ctx) => {
    if (m.thresholds.alarm < m.thresholds.warn) ctx.addIssue({ code: 'custom', path: ['thresholds', 'alarm'], message: `alarm (${m.thresholds.alarm}) must not be below warn (${m.thresholds.warn})` });
    if (new Set(m.tags).size !== m.tags.length) ctx.addIssue({ code: 'custom', path: ['tags'], message: 'a tag is listed twice' });
    if (m.hop > m.windowLength) ctx.addIssue({ code: 'custom', path: ['hop'], message: `hop (${m.hop}) larger than windowLength (${m.windowLength}) would skip samples` });
    for (const key of ['mean', 'std'] as const) {
      const values = m.normalization?.[key];
      if (values && values.length !== m.tags.length) ctx.addIssue({ code: 'custom', path: ['normalization', key], message: `has ${values.length} values for ${m.tags.length} tags` });
    }
  });

export type ModelManifest = z.infer<typeof ModelManifestSchema>;
export type ModelManifestInput = z.input<typeof ModelManifestSchema>;

export type ScoreLevel = 'normal' | 'warn' | 'alarm';

export function levelOf(score: number, thresholds: ModelManifest['thresholds']): ScoreLevel {
  if (score >= thresholds.alarm) return 'alarm';
  if (score >= thresholds.warn) return 'warn';
  return 'normal';
}

/** `name@version`, the key a model version goes by in logs, metrics and /models. */
export function modelKey(m: { name: string; version: string }): string {
  return `${m.name}@${m.version}`;
}
