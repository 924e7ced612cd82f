import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { describeError, VigilError } from '../../shared/errors.js';
import { modelKey, type ModelManifest } from '../../shared/model-manifest.js';
import { parseYamlWithPositions, type PositionedYaml } from '../../shared/yaml-positions.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { displayPath, formatIssues } from '../config/format-issues.js';
import { formatPath } from '../config/explain-zod-issues.js';
import type { ResolvedConfig } from '../config/schema.js';
import { tagsKnownTo } from '../models/agent-tags.js';
import { packModel, readModelPackage, type ManifestIssue } from '../models/package-file.js';

type Out = (line: string) => void;

/**
 * `vigil model pack <onnx> <manifest> [--out file]`: validates the manifest
 * (JSON or YAML), fills in the ONNX file's sha256, checks the ONNX file against
 * the manifest with a dry run, and writes `<name>-<version>.vmodel`. The file is
 * written under a temporary name and renamed, so `--out` may point straight
 * into an agent's model folder. Returns the exit code.
 */
export async function runModelPack(onnxFile: string, manifestFile: string, opts: { out?: string }, out: Out): Promise<number> {
  let onnxBytes: Buffer;
  let manifestText: string;
  try {
    onnxBytes = await readFile(onnxFile);
    manifestText = await readFile(manifestFile, 'utf8');
  } catch (err) {
    out(`✖ ${describeError(err)}`);
    return 1;
  }
  const shownManifest = displayPath(resolve(manifestFile));
  const yaml = parseYamlWithPositions(manifestText.replace(/^\uFEFF/, ''));
  if (yaml.errors.length > 0) {
    out(`✖ ${shownManifest}: the manifest cannot be parsed`);
    for (const e of yaml.errors) out(`${shownManifest}:${e.line}:${e.column}  ${e.message}`);
    return 1;
  }

  let packed: Awaited<ReturnType<typeof packModel>>;
  try {
    packed = await packModel(onnxBytes, yaml.value);
  } catch (err) {
    if (!(err instanceof VigilError)) throw err;
    const issues = err.details.issues as ManifestIssue[] | undefined;
    if (issues) {
      out(`✖ ${shownManifest}: ${issues.length === 1 ? 'a problem' : `${issues.length} problems`} in the manifest; no package written`);
      out(formatIssues(issues.map((i) => ({ file: resolve(manifestFile), ...yaml.positionOf(i.path, i.target), path: formatPath(i.path), message: i.message, ...(i.hint ? { hint: i.hint } : {}) }))));
    } else if (err.code === 'VIGIL_MODEL_CHECKSUM_MISMATCH') {
      out(`✖ ${shownManifest}: ${err.message}`);
      out(`${locate(shownManifest, yaml, ['onnx', 'sha256'])}  onnx.sha256`);
    } else {
      out(`✖ ${err.message}`);
    }
    return 1;
  }

  const { manifest, bytes } = packed;
  const verdict = await verify(manifest, onnxBytes, undefined);
  if (!verdict.ok) {
    out(`✖ ${modelKey(manifest)} ${verdict.headline}; no package written`);
    for (const reason of verdict.reasons) out(`  - ${reason}`);
    return 1;
  }

  const target = await outputPath(opts.out, `${manifest.name}-${manifest.version}.vmodel`);
  // Temporary dotfile next to the target, then rename: a model folder never sees half a package.
  const temporary = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  try {
    await writeFile(temporary, bytes);
    await rename(temporary, target);
  } catch (err) {
    await rm(temporary, { force: true });
    out(`✖ cannot write ${displayPath(target)}: ${describeError(err)}`);
    return 1;
  }
  out(`✔ ${modelKey(manifest)} → ${displayPath(target)} (${formatBytes(bytes.length)}; ONNX sha256 ${manifest.onnx.sha256.slice(0, 12)}…; batch ${verdict.batchMode}; dry run ok)`);
  return 0;
}

/**
 * `vigil model check <package> [--config agent.yaml]`: reads a package offline
 * and runs every check the agent runs before activating it (checksum, manifest,
 * ONNX file, dry run; with --config, the model's tags against the agent's).
 * Prints a summary, or the refusal with every reason. Returns the exit code.
 */
export async function runModelCheck(packageFile: string, opts: { config?: string }, out: Out): Promise<number> {
  const shown = displayPath(resolve(packageFile));
  let bytes: Buffer;
  try {
    bytes = await readFile(packageFile);
  } catch (err) {
    out(`✖ ${describeError(err)}`);
    return 1;
  }
  let read: ReturnType<typeof readModelPackage>;
  try {
    read = readModelPackage(bytes, shown);
  } catch (err) {
    out(`✖ ${err instanceof VigilError ? `${err.message}\n  (${err.code})` : describeError(err)}`);
    return 1;
  }
  const { manifest, onnxBytes } = read;

  let agentTags: ReadonlySet<string> | undefined;
  let configShown = '';
  if (opts.config) {
    let config: ResolvedConfig;
    try {
      config = await loadConfig(opts.config);
    } catch (err) {
      if (err instanceof ConfigError) {
        out(`✖ the agent configuration has errors; fix them first (vigil check ${opts.config})`);
        out(formatIssues(err.issues));
      } else {
        out(`✖ ${describeError(err)}`);
      }
      return 1;
    }
    agentTags = tagsKnownTo([...config.opcuaTags, ...config.mqttTags].map((t) => t.name), manifest.tags);
    configShown = displayPath(config.file);
  }

  const verdict = await verify(manifest, onnxBytes, agentTags);
  if (!verdict.ok) {
    out(`✖ ${shown}: ${modelKey(manifest)} ${verdict.headline}`);
    for (const reason of verdict.reasons) out(`  - ${reason}`);
    return 1;
  }
  out(`✔ ${shown}: ${modelKey(manifest)} can be deployed`);
  for (const [label, value] of summaryRows(manifest, verdict, configShown)) out(`  ${label.padEnd(13)} ${value}`);
  return 0;
}

type Verdict =
  | { ok: true; batchMode: 'dynamic' | 'single'; inputDims: readonly [number, number] }
  | { ok: false; headline: string; reasons: string[] };

/** Loads the model in this process (ONNX Runtime) with every check the agent makes, then releases it. */
async function verify(manifest: ModelManifest, onnxBytes: Uint8Array, agentTags: ReadonlySet<string> | undefined): Promise<Verdict> {
  // Imported here: ONNX Runtime takes a while to load, and other commands do not need it.
  const { openVerifiedModel } = await import('../scoring/verify-model.js');
  try {
    const model = await openVerifiedModel(manifest, onnxBytes, agentTags ? { agentTags } : {});
    await model.release();
    return { ok: true, batchMode: model.batchMode, inputDims: model.inputDims };
  } catch (err) {
    if (!(err instanceof VigilError)) return { ok: false, headline: 'could not be checked', reasons: [describeError(err)] };
    const reasons = Array.isArray(err.details.reasons) ? (err.details.reasons as string[]) : [err.message];
    const headline = err.code === 'VIGIL_MODEL_REFUSED' ? 'is refused' : err.code === 'VIGIL_MODEL_CHECKSUM_MISMATCH' ? 'is refused: checksum mismatch' : 'is refused: the ONNX file cannot be loaded';
    return { ok: false, headline: `${headline} (${err.code})`, reasons };
  }
}

function summaryRows(manifest: ModelManifest, verdict: Extract<Verdict, { ok: true }>, configShown: string): Array<[string, string]> {
  const m = manifest;
  const fill = m.missingData.forwardFillMaxAgeMs ?? 3 * m.samplePeriodMs;
  const rows: Array<[string, string]> = [];
  if (m.description) rows.push(['description', m.description]);
  rows.push(
    ['input', `"${m.input.name}" ${m.input.dtype} [N,${verdict.inputDims.join(',')}], layout ${m.input.layout}`],
    ['tags', `${m.tags.length}: ${m.tags.join(', ')}${configShown ? ` (all configured in ${configShown})` : ''}`],
    ['window', `${m.windowLength} samples × ${formatMs(m.samplePeriodMs)} = ${formatMs(m.windowLength * m.samplePeriodMs)}, every ${m.hop} samples (${formatMs(m.hop * m.samplePeriodMs)})`],
    ['missing data', `forward fill up to ${formatMs(fill)}; insufficient above ${pct(m.missingData.maxFilledShare)} filled or ${pct(m.missingData.maxBadShare)} bad`],
    ['scaling', m.normalization ? '(x - mean) / std per tag, before the model' : 'none (the model scales by itself)'],
    ['output', `score "${m.output.score}"${m.output.reduce === 'squeeze' ? ' [N,1] squeezed to [N]' : ' [N]'}${m.output.contributions ? `, contributions "${m.output.contributions}" [N,${m.tags.length}]` : ', no contributions'}`],
    ['thresholds', `warn ≥ ${m.thresholds.warn}, alarm ≥ ${m.thresholds.alarm}`],
    ['batch mode', verdict.batchMode === 'dynamic' ? 'dynamic (due windows are scored together in one run)' : 'single (the batch axis is fixed to 1: windows are scored one by one)'],
    ['dry run', 'ok'],
    ['onnx', `${m.onnx.file}, sha256 ${m.onnx.sha256}`],
  );
  if (!configShown) rows.push(['tags check', 'skipped: give --config <agent.yaml> to check the tags against an agent configuration']);
  return rows;
}

async function outputPath(requested: string | undefined, defaultName: string): Promise<string> {
  if (!requested) return resolve(defaultName);
  const target = resolve(requested);
  const isDir = requested.endsWith('/') || (await stat(target).then((s) => s.isDirectory(), () => false));
  return isDir ? join(target, defaultName) : target;
}

function locate(shown: string, yaml: PositionedYaml, path: Array<string | number>): string {
  const at = yaml.positionOf(path);
  return `${shown}:${at.line}:${at.column}`;
}

function formatMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${trim(ms / 1000)} s`;
  if (ms < 7_200_000) return `${trim(ms / 60_000)} min`;
  return `${trim(ms / 3_600_000)} h`;
}

function trim(n: number): string {
  return String(Math.round(n * 100) / 100);
}

function pct(share: number): string {
  return `${trim(share * 100)} %`;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${trim(n / 1024)} KiB`;
  return `${trim(n / (1024 * 1024))} MiB`;
}
