import { describe, expect, it } from 'vitest';
import { buildInputTensorData } from '../../agent/scoring/build-input.js';
import { listNanCells, type DueWindows, type WindowLayout } from '../../agent/windows/due-windows.js';
import { ModelManifestSchema, type ModelManifest } from '../../shared/model-manifest.js';

function manifest(over: Partial<Record<string, unknown>> = {}): ModelManifest {
  return ModelManifestSchema.parse({
    format: 'vigil-model/1',
    name: 'm',
    version: '1.0.0',
    input: { name: 'x', dtype: 'float32', layout: 'batch,time,tag' },
    tags: ['a', 'b'],
    samplePeriodMs: 1000,
    windowLength: 3,
    hop: 1,
    output: { score: 's' },
    thresholds: { warn: 1, alarm: 2 },
    onnx: { sha256: '0'.repeat(64) },
    ...over,
  });
}

/** windows[w][t][k] given as nested arrays. */
function due(cells: number[][][]): DueWindows {
  const count = cells.length;
  const length = cells[0]!.length;
  const tags = cells[0]![0]!.length;
  return {
    count,
    length,
    tags,
    values: Float64Array.from(cells.flat(2)),
    starts: new Float64Array(count),
    ends: new Float64Array(count),
    filledShare: new Float64Array(count),
    badShare: new Float64Array(count),
    sufficient: new Uint8Array(count).fill(1),
  };
}

/**
 * The same windows as a windower would cut them for a model of `layout`:
 * values in that order, with the NaN cells of the sufficient windows listed
 * (or not, `listed` false: the general path on that layout).
 */
function cutFor(windows: DueWindows, layout: WindowLayout, listed = true): DueWindows {
  const { count, length, tags } = windows;
  const values = new Float64Array(windows.values.length);
  for (let w = 0; w < count; w++) {
    for (let t = 0; t < length; t++) {
      for (let k = 0; k < tags; k++) {
        const to = layout === 'batch,tag,time' ? k * length + t : t * tags + k;
        values[w * length * tags + to] = windows.values[w * length * tags + t * tags + k] as number;
      }
    }
  }
  const cut: DueWindows = { ...windows, values, layout };
  return listed ? { ...cut, ...listNanCells(cut) } : cut;
}

const twoWindows = due([
  [[1, 10], [2, 20], [3, 30]],
  [[4, 40], [5, 50], [6, 60]],
]);

describe('buildInputTensorData', () => {
  it('keeps batch,time,tag as it is, in float32', () => {
    const out = buildInputTensorData(manifest(), twoWindows, [0, 1]);
    expect(out).toBeInstanceOf(Float32Array);
    expect(Array.from(out)).toEqual([1, 10, 2, 20, 3, 30, 4, 40, 5, 50, 6, 60]);
  });

  it('transposes each window for batch,tag,time and honours float64', () => {
    const out = buildInputTensorData(manifest({ input: { name: 'x', dtype: 'float64', layout: 'batch,tag,time' } }), twoWindows, [0, 1]);
    expect(out).toBeInstanceOf(Float64Array);
    expect(Array.from(out)).toEqual([1, 2, 3, 10, 20, 30, 4, 5, 6, 40, 50, 60]);
  });

  it('takes only the windows at the given indices, in that order', () => {
    const out = buildInputTensorData(manifest(), twoWindows, [1]);
    expect(Array.from(out)).toEqual([4, 40, 5, 50, 6, 60]);
    expect(() => buildInputTensorData(manifest(), twoWindows, [2])).toThrow(RangeError);
  });

  it('normalises each tag with (x - mean) / std', () => {
    const out = buildInputTensorData(manifest({ input: { name: 'x', dtype: 'float64', layout: 'batch,time,tag' }, normalization: { mean: [2, 20], std: [1, 10] } }), twoWindows, [0]);
    expect(Array.from(out)).toEqual([-1, -1, 0, 0, 1, 1]);
  });

  it('imputes a NaN cell from the previous cell of its tag, else the next, else the mean or 0', () => {
    const holes = due([
      [[Number.NaN, Number.NaN], [2, Number.NaN], [Number.NaN, Number.NaN]],
      [[1, 7], [Number.NaN, Number.NaN], [3, 9]],
    ]);
    const raw = buildInputTensorData(manifest({ input: { name: 'x', dtype: 'float64', layout: 'batch,time,tag' } }), holes, [0, 1]);
    // window 0: tag a leads with the next value (2) and trails with the previous (2); tag b has nothing: 0.
    // window 1: the middle cells take the previous cell's values.
    expect(Array.from(raw)).toEqual([2, 0, 2, 0, 2, 0, 1, 7, 1, 7, 3, 9]);
    const scaled = buildInputTensorData(
      manifest({ input: { name: 'x', dtype: 'float64', layout: 'batch,time,tag' }, normalization: { mean: [0, 5], std: [1, 2] } }),
      holes,
      [0],
    );
    // An all-NaN tag takes the mean, which scales to 0.
    expect(Array.from(scaled)).toEqual([2, 0, 2, 0, 2, 0]);
  });

  it('never writes NaN', () => {
    const out = buildInputTensorData(manifest({ input: { name: 'x', dtype: 'float32', layout: 'batch,tag,time' } }), due([[[Number.NaN, 1], [Number.NaN, Number.NaN], [5, Number.NaN]]]), [0]);
    expect(Array.from(out)).toEqual([5, 5, 5, 1, 1, 1]);
  });

  it('equals a plain cell-by-cell reference on random windows with NaN runs, in both layouts, scaled or not', () => {
    // Lengths that are and are not multiples of the four-cell unrolling; NaN at starts, ends and in runs.
    let seed = 7;
    const next = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (const length of [1, 4, 7, 33]) {
      const tags = 3;
      const count = 5;
      const cells: number[][][] = [];
      for (let w = 0; w < count; w++) {
        cells.push(Array.from({ length }, () => Array.from({ length: tags }, () => (next() < 0.3 ? Number.NaN : next() * 10 - 5))));
      }
      cells[1]!.forEach((row) => (row[2] = Number.NaN)); // a tag with no value at all in window 1
      const windows = due(cells);
      // Window 3 is insufficient: its NaN cells are not listed, so even the listed path must look at it.
      windows.sufficient[3] = 0;
      for (const layout of ['batch,time,tag', 'batch,tag,time'] as const) {
        for (const normalization of [undefined, { mean: [1, -2, 0.5], std: [2, 0.5, 3] }]) {
          const m = manifest({ windowLength: length, tags: ['a', 'b', 'c'], input: { name: 'x', dtype: 'float64', layout }, ...(normalization ? { normalization } : {}) });
          const indices = [4, 1, 0, 1, 2, 3, 4];
          const expected: number[] = [];
          for (const w of indices) {
            const grid: number[][] = [];
            for (let k = 0; k < tags; k++) {
              const column = cells[w]!.map((row) => row[k]!);
              const firstValid = column.find((v) => !Number.isNaN(v));
              let last = firstValid ?? normalization?.mean[k] ?? 0;
              grid.push(column.map((v) => {
                if (!Number.isNaN(v)) last = v;
                return normalization ? (last - normalization.mean[k]!) / normalization.std[k]! : last;
              }));
            }
            for (let i = 0; i < length * tags; i++) expected.push(layout === 'batch,tag,time' ? grid[Math.floor(i / length)]![i % length]! : grid[i % tags]![Math.floor(i / tags)]!);
          }
          const what = `${layout} length ${length} ${normalization ? 'scaled' : 'raw'}`;
          expect(Array.from(buildInputTensorData(m, windows, indices)), what).toEqual(expected);
          // Windows cut in either layout, NaN cells listed or not: the same input.
          for (const cutLayout of ['batch,time,tag', 'batch,tag,time'] as const) {
            for (const listed of [true, false]) {
              expect(Array.from(buildInputTensorData(m, cutFor(windows, cutLayout, listed), indices)), `${what}, cut ${cutLayout}${listed ? ' listed' : ''}`).toEqual(expected);
            }
          }
          // Float32: the listed copy rounds exactly as the cell-by-cell gather does.
          const m32 = manifest({ windowLength: length, tags: ['a', 'b', 'c'], input: { name: 'x', dtype: 'float32', layout }, ...(normalization ? { normalization } : {}) });
          expect(Array.from(buildInputTensorData(m32, cutFor(windows, layout), indices)), `${what} float32`).toEqual(Array.from(Float32Array.from(expected)));
          if (!normalization) {
            // Windows cut in float32 (as for a float32 model that does not scale), on the copy and on the gather: the same input, bit for bit.
            for (const cutLayout of ['batch,time,tag', 'batch,tag,time'] as const) {
              for (const listed of [true, false]) {
                const cut = cutFor(windows, cutLayout, listed);
                const in32 = buildInputTensorData(m32, { ...cut, values: Float32Array.from(cut.values) }, indices);
                expect(Array.from(in32), `${what}, cut ${cutLayout} in float32${listed ? ' listed' : ''}`).toEqual(Array.from(Float32Array.from(expected)));
              }
            }
          }
        }
      }
    }
  });

  it('writes into a given array of the right dtype and length, overwriting what it held', () => {
    const out = new Float32Array(12).fill(99);
    expect(buildInputTensorData(manifest(), twoWindows, [0, 1], out)).toBe(out);
    expect(Array.from(out)).toEqual([1, 10, 2, 20, 3, 30, 4, 40, 5, 50, 6, 60]);
    expect(() => buildInputTensorData(manifest(), twoWindows, [0, 1], new Float64Array(12))).toThrow(/float32 array of 12 values/);
    expect(() => buildInputTensorData(manifest(), twoWindows, [0], new Float32Array(12))).toThrow(/float32 array of 6 values/);
  });

  it('copies windows cut in the model\'s layout as they are, imputing only the listed NaN cells', () => {
    const m = manifest({ input: { name: 'x', dtype: 'float32', layout: 'batch,tag,time' } });
    const cut = cutFor(due([[[1, Number.NaN], [Number.NaN, 20], [3, 30]]]), 'batch,tag,time');
    expect(Array.from(cut.values)).toEqual([1, Number.NaN, 3, Number.NaN, 20, 30]);
    expect(Array.from(cut.nanCells!)).toEqual([1, 3]);
    expect(Array.from(buildInputTensorData(m, cut, [0]))).toEqual([1, 1, 3, 20, 20, 30]);
  });

  it('refuses windows shaped for another manifest', () => {
    expect(() => buildInputTensorData(manifest({ windowLength: 4 }), twoWindows, [0])).toThrow(/windows are 3 × 2 but model m@1.0.0 takes 4 × 2/);
  });
});
