import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { VigilError } from '../../shared/errors.js';
import { ModelManifestSchema, modelKey, type ModelManifest } from '../../shared/model-manifest.js';
import { explainZodIssues, formatPath } from '../config/explain-zod-issues.js';
import { readUstar, TarFormatError, writeUstar, type TarEntry } from './ustar.js';

/**
 * A model package (`*.vmodel`) is an uncompressed POSIX tar holding exactly two
 * files: `manifest.json` (see shared/model-manifest.ts) and the ONNX file named
 * in `manifest.onnx.file`. ONNX weights barely compress, and a plain tar can be
 * inspected with standard tools. See agent/models/README.md.
 */
export const MANIFEST_ENTRY = 'manifest.json';

/** One manifest problem, located by key path, for the CLI to point at a line. */
export interface ManifestIssue {
  path: Array<string | number>;
  message: string;
  hint?: string;
  /** Unknown keys point at the key; everything else at the value. */
  target: 'key' | 'value';
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Builds a package from an ONNX file and a manifest (as parsed from JSON or
 * YAML). `onnx.sha256` is filled in when the manifest leaves it out, and must
 * match the file when it is given. The manifest is stored validated, defaults
 * written out, so the package says exactly what the agent will do.
 */
export async function packModel(onnxBytes: Uint8Array, manifestInput: unknown): Promise<{ bytes: Buffer; manifest: ModelManifest }> {
  const actual = sha256Hex(onnxBytes);
  const withChecksum = fillChecksum(manifestInput, actual);
  const manifest = parseManifest(withChecksum, 'the manifest');
  if (manifest.onnx.sha256 !== actual) {
    throw new VigilError(
      'VIGIL_MODEL_CHECKSUM_MISMATCH',
      `the manifest's onnx.sha256 (${manifest.onnx.sha256}) is not the SHA-256 of the ONNX file (${actual}): the manifest was written for another file; remove onnx.sha256 to have it filled in, or pack the ONNX file it was written for`,
      { details: { expected: manifest.onnx.sha256, actual } },
    );
  }
  if (onnxBytes.length === 0) throw new VigilError('VIGIL_MODEL_PACKAGE_INVALID', 'the ONNX file is empty');
  const entries: TarEntry[] = [
    { name: MANIFEST_ENTRY, data: Buffer.from(JSON.stringify(manifest, null, 2) + '\n', 'utf8') },
    { name: manifest.onnx.file, data: onnxBytes },
  ];
  return { bytes: writeUstar(entries), manifest };
}

/**
 * Reads a package from memory (a file, or bytes pushed by the hub). Checks the
 * archive, the manifest and the ONNX file's checksum; loading the ONNX file is
 * left to the scoring side. `origin` (a file name) starts every message.
 * Throws VigilError VIGIL_MODEL_PACKAGE_INVALID or VIGIL_MODEL_CHECKSUM_MISMATCH.
 */
export function readModelPackage(bytes: Uint8Array, origin = 'model package'): { manifest: ModelManifest; onnxBytes: Uint8Array } {
  let entries: TarEntry[];
  try {
    entries = readUstar(bytes);
  } catch (err) {
    if (!(err instanceof TarFormatError)) throw err;
    throw invalid(origin, `${err.message}. A package is a tar of manifest.json and the ONNX file, built with \`vigil model pack\`; if it was being copied, copy it again (write to a .tmp name, then rename)`, err);
  }
  const names = entries.map((e) => e.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate) throw invalid(origin, `"${duplicate}" is in the package twice`);
  const manifestEntry = entries.find((e) => e.name === MANIFEST_ENTRY);
  if (!manifestEntry) throw invalid(origin, `the package has no ${MANIFEST_ENTRY} (it holds: ${listNames(names)}); build it with \`vigil model pack <onnx> <manifest>\``);

  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(manifestEntry.data).toString('utf8').replace(/^\uFEFF/, ''));
  } catch (err) {
    throw invalid(origin, `${MANIFEST_ENTRY} is not valid JSON (${(err as Error).message})`, err);
  }
  const manifest = parseManifest(json, `${origin}: ${MANIFEST_ENTRY}`);

  const onnx = entries.find((e) => e.name === manifest.onnx.file);
  if (!onnx) throw invalid(origin, `the ONNX file "${manifest.onnx.file}" named in onnx.file is not in the package (it holds: ${listNames(names)})`);
  const extra = names.filter((n) => n !== MANIFEST_ENTRY && n !== manifest.onnx.file);
  if (extra.length) throw invalid(origin, `unexpected file${extra.length === 1 ? '' : 's'} in the package: ${listNames(extra)}; a package holds only ${MANIFEST_ENTRY} and ${manifest.onnx.file}`);

  const actual = sha256Hex(onnx.data);
  if (actual !== manifest.onnx.sha256) {
    throw new VigilError(
      'VIGIL_MODEL_CHECKSUM_MISMATCH',
      `${origin}: ${manifest.onnx.file} does not match the manifest's sha256 (expected ${manifest.onnx.sha256}, found ${actual}); the package is damaged or was altered — refused, rebuild it with \`vigil model pack\``,
      { details: { model: modelKey(manifest), expected: manifest.onnx.sha256, actual, origin } },
    );
  }
  return { manifest, onnxBytes: onnx.data };
}

/** Validates a manifest; throws VIGIL_MODEL_PACKAGE_INVALID listing every problem as `path: message`. */
export function parseManifest(data: unknown, what: string): ModelManifest {
  const result = ModelManifestSchema.safeParse(data);
  if (result.success) return result.data;
  const issues = explainManifestIssues(result.error.issues, data);
  const lines = issues.map(issueLine);
  throw new VigilError(
    'VIGIL_MODEL_PACKAGE_INVALID',
    `${what} has ${lines.length === 1 ? 'a problem' : `${lines.length} problems`}:\n${lines.map((l) => `  ${l}`).join('\n')}`,
    { details: { issues } },
  );
}

/**
 * Manifest problems in plain words, one line each: `thresholds.alarm: alarm (1)
 * must not be below warn (2)`, `tresholds: unknown key "tresholds" at the top
 * level; did you mean "thresholds"?`. `data` is the manifest that was validated.
 */
export function formatManifestIssues(issues: readonly z.core.$ZodIssue[], data: unknown): string[] {
  return explainManifestIssues(issues, data).map(issueLine);
}

function explainManifestIssues(issues: readonly z.core.$ZodIssue[], data: unknown): ManifestIssue[] {
  return explainZodIssues(ModelManifestSchema, data, issues).map((i) => ({
    path: i.path,
    message: i.message,
    ...(i.hint ? { hint: i.hint } : {}),
    target: i.target,
  }));
}

function issueLine(issue: ManifestIssue): string {
  const path = issue.path.length ? formatPath(issue.path) : 'manifest';
  // The list of allowed keys only helps when there is no single good guess.
  const hint = issue.hint && !issue.message.includes('did you mean') ? ` (${issue.hint})` : '';
  return `${path}: ${issue.message}${hint}`;
}

/** The manifest with `onnx.sha256` set when it was left out (the input is not modified). */
function fillChecksum(input: unknown, sha256: string): unknown {
  if (!isRecord(input)) return input;
  const onnx = input.onnx;
  if (onnx === undefined) return { ...input, onnx: { sha256 } };
  if (isRecord(onnx) && onnx.sha256 === undefined) return { ...input, onnx: { ...onnx, sha256 } };
  return input;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(origin: string, message: string, cause?: unknown): VigilError {
  return new VigilError('VIGIL_MODEL_PACKAGE_INVALID', `${origin}: ${message}`, { details: { origin }, ...(cause === undefined ? {} : { cause }) });
}

function listNames(names: readonly string[]): string {
  return names.length ? names.map((n) => `"${n}"`).join(', ') : 'nothing';
}
