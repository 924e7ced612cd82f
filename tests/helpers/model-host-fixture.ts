import { readFileSync } from 'node:fs';
import { packModel } from '../../agent/models/package-file.js';
import { ScoringClient } from '../../agent/scoring/scoring-client.js';
import type { Sample } from '../../shared/sample.js';

/** The reference PCA model (tests/fixtures/models) and live data for it, for ModelHost tests. */
const FIXTURES = new URL('../fixtures/models/', import.meta.url);
export const ONNX = readFileSync(new URL('pca4x60.onnx', FIXTURES));
const BASE = JSON.parse(readFileSync(new URL('pca4x60.manifest.json', FIXTURES), 'utf8')) as Record<string, unknown> & { tags: string[]; onnx: { file: string } };
export const TAGS = BASE.tags;
export const PERIOD = 1000;

/** A package of the reference PCA model under another version (and optionally other manifest fields). */
export async function pcaPackage(version: string, extra: Record<string, unknown> = {}): Promise<Buffer> {
  const { onnx, ...rest } = BASE;
  return (await packModel(ONNX, { ...rest, ...extra, version, onnx: { file: onnx.file } })).bytes;
}

/** One sample per tag per period: smooth, plausible values around the model's means. */
export function samplesFor(cellFrom: number, cellTo: number): Sample[] {
  const out: Sample[] = [];
  for (let c = cellFrom; c < cellTo; c++) {
    TAGS.forEach((tag, k) => out.push({ tag, ts: c * PERIOD + 100, value: Math.sin(c / 7 + k) * 0.8 + k * 0.1, quality: 'good' }));
  }
  return out;
}

const clients: ScoringClient[] = [];

/** A real scoring worker, closed by closeClients() (call it in afterEach). */
export async function startClient(): Promise<ScoringClient> {
  const client = await ScoringClient.start({ maxBatch: 64 });
  clients.push(client);
  return client;
}

/** Scoring workers started since the last closeClients() (a restart after a worker died starts one more). */
export function startedClients(): number {
  return clients.length;
}

export async function closeClients(): Promise<void> {
  await Promise.all(clients.splice(0).map((c) => c.close()));
}
