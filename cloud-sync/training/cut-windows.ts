import type { ModelManifest } from '../../shared/model-manifest.js';
import { buildInputTensorData } from '../../agent/scoring/build-input.js';
import { windowSpecOf } from '../../agent/scoring/model-host.js';
import { ModelWindower } from '../../agent/windows/model-windower.js';
import type { DueWindows } from '../../agent/windows/due-windows.js';
import type { TagSeries, TrainingSegment } from './training-data.js';

/** Sufficient windows of one batch, laid out as the model's input (float32, batch,time,tag), with their event times. */
export interface InputBatch {
  input: Float32Array;
  count: number;
  starts: Float64Array;
  ends: Float64Array;
}

/** Samples offered between two drains of the windower (bounds the windows waiting in it). */
const DRAIN_EVERY = 4096;

/**
 * Cuts one recording into windows exactly as the agent does — the same
 * `ModelWindower` (event-time grid, forward fill, missing-data policy) and
 * the same imputation into the float32 input (`buildInputTensorData`) — and
 * hands over the sufficient ones batch by batch, so a long period never sits
 * in memory as raw windows. Samples are fed oldest first across tags, so no
 * late tolerance is needed. Returns how many windows the missing-data policy
 * left out. `onSamples` is told how many samples were offered so far.
 */
export function cutWindows(segment: TrainingSegment, manifest: ModelManifest, onBatch: (batch: InputBatch) => void, onSamples?: (offered: number) => void): { insufficient: number } {
  const windower = new ModelWindower(windowSpecOf(manifest, 0));
  const series = manifest.tags.map((tag) => seriesOf(segment, tag));
  let insufficient = 0;

  const drain = (): void => {
    let due: DueWindows | null;
    while ((due = windower.takeDue())) {
      const chosen: number[] = [];
      for (let w = 0; w < due.count; w++) {
        if (due.sufficient[w] === 1) chosen.push(w);
        else insufficient++;
      }
      if (chosen.length === 0) continue;
      const input = new Float32Array(chosen.length * due.length * due.tags);
      buildInputTensorData(manifest, due, chosen, input);
      onBatch({ input, count: chosen.length, starts: Float64Array.from(chosen, (w) => due!.starts[w] as number), ends: Float64Array.from(chosen, (w) => due!.ends[w] as number) });
    }
  };

  const next = new Int32Array(series.length);
  let offered = 0;
  for (;;) {
    // The oldest pending sample across tags (ties: the first tag).
    let pick = -1;
    let pickTs = Infinity;
    for (let k = 0; k < series.length; k++) {
      const s = series[k]!;
      const i = next[k]!;
      if (i < s.ts.length && (s.ts[i] as number) < pickTs) {
        pick = k;
        pickTs = s.ts[i] as number;
      }
    }
    if (pick < 0) break;
    const s = series[pick]!;
    const i = next[pick]!++;
    windower.offer(pick, pickTs, s.values[i] as number, s.bad?.[i] === 1 ? 'bad' : 'good');
    if (++offered % DRAIN_EVERY === 0) {
      drain();
      onSamples?.(offered);
    }
  }
  drain();
  onSamples?.(offered);
  return { insufficient };
}

function seriesOf(segment: TrainingSegment, tag: string): TagSeries {
  const found = segment.series.find((s) => s.tag === tag);
  if (!found) throw new Error(`${segment.source.name} has no series for tag "${tag}"`);
  return found;
}
