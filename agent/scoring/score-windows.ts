import { levelOf, type ModelManifest } from '../../shared/model-manifest.js';
import type { WindowResult } from '../../shared/window-result.js';
import type { DueWindows } from '../windows/due-windows.js';
import { buildInputTensorData } from './build-input.js';
import { perTagRecord } from './per-tag-record.js';
import type { ScoringClient } from './scoring-client.js';

/**
 * Turns one model's due windows into results, in window order: insufficient
 * windows become `insufficient_data` results without a score; all sufficient
 * ones go to the worker as one tensor (batched there by maxBatch). A model
 * fault rejects with VIGIL_MODEL_FAULT and yields no results for the batch:
 * the caller decides whether to roll back and rescore.
 */
export async function scoreDueWindows(
  client: ScoringClient,
  key: string,
  manifest: ModelManifest,
  windows: DueWindows,
  options: { shadow: boolean },
): Promise<WindowResult[]> {
  let n = 0;
  for (let w = 0; w < windows.count; w++) if (windows.sufficient[w] === 1) n++;
  const sufficient = new Int32Array(n);
  for (let w = 0, i = 0; w < windows.count; w++) if (windows.sufficient[w] === 1) sufficient[i++] = w;

  let scores: Float64Array | null = null;
  let contributions: Float64Array | null = null;
  if (n > 0) {
    // Built in a buffer the worker handed back after an earlier batch: no ~100 KB allocation per batch.
    const input = client.inputArray(manifest.input.dtype, n * windows.length * windows.tags);
    buildInputTensorData(manifest, windows, sufficient, input);
    ({ scores, contributions } = await client.score(key, input, n));
  }

  const { name: model, version } = manifest;
  const tagCount = manifest.tags.length;
  const contributionsOf = contributions ? perTagRecord(manifest.tags) : null;
  const shadow = options.shadow;
  const results: WindowResult[] = new Array(windows.count);
  let scored = 0;
  // Object literals of one fixed shape (no spreads): this loop is on the hot path of every batch.
  for (let w = 0; w < windows.count; w++) {
    const quality = { filledShare: windows.filledShare[w] as number, badShare: windows.badShare[w] as number };
    const start = windows.starts[w] as number;
    const end = windows.ends[w] as number;
    if (windows.sufficient[w] !== 1 || scores === null) {
      results[w] = { model, version, shadow, start, end, status: 'insufficient_data', score: null, level: null, contributions: null, quality };
      continue;
    }
    const i = scored++;
    const score = scores[i] as number;
    const perTag = contributionsOf && contributions ? contributionsOf(contributions, i * tagCount) : null;
    results[w] = { model, version, shadow, start, end, status: 'scored', score, level: levelOf(score, manifest.thresholds), contributions: perTag, quality };
  }
  return results;
}

