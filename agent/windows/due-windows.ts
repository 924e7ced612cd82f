/** Order of the cells within each window of `DueWindows.values`, named as the manifest's `input.layout`. */
export type WindowLayout = 'batch,time,tag' | 'batch,tag,time';

/**
 * The number type `DueWindows.values` are cut in. float32 only for models
 * that read float32 values unscaled: the cut's rounding is then exactly the
 * rounding their input gets anyway, and building the input becomes a memcpy
 * instead of a float64 → float32 conversion (measured: 70 µs vs 8 µs per
 * 1,024 windows of ae_chfirst, as much as running the model).
 */
export type WindowPrecision = 'float64' | 'float32';

/** The precision a model's windows can be cut in without changing its input by a bit (see WindowPrecision). */
export function windowPrecisionFor(manifest: { input: { dtype: 'float32' | 'float64' }; normalization?: unknown }): WindowPrecision {
  return manifest.input.dtype === 'float32' && manifest.normalization === undefined ? 'float32' : 'float64';
}

/**
 * Windows of one model that are due for scoring, as plain typed arrays so the
 * batch can be handed to the scoring worker without per-window objects.
 * Values are event-time resampled cells, per window in `layout` order
 * ([time][tag] by default; a windower built for a `batch,tag,time` model
 * writes [tag][time], so the model's input is a plain copy); NaN marks a cell
 * with no usable value (missing, or bad quality).
 */
export interface DueWindows {
  /** Windows in this batch. */
  count: number;
  /** Cells per window on the time axis (the manifest's windowLength). */
  length: number;
  /** Tags per cell (the manifest's tag count, in manifest order). */
  tags: number;
  /** count × length × tags values, in the windower's precision (see WindowPrecision). */
  values: Float64Array | Float32Array;
  /** Cell order within a window; absent means 'batch,time,tag'. */
  layout?: WindowLayout;
  /**
   * Where the NaN cells of the sufficient windows are, so building a model's
   * input need not look at every cell: window w's NaN cells are
   * `nanCells[nanStarts[w] .. nanStarts[w + 1])`, as positions within the
   * window (0 … length × tags − 1, in `layout` order), ascending. Insufficient
   * windows list none (they are not scored). Absent: not known (scan).
   */
  nanCells?: Int32Array;
  /** count + 1 offsets into `nanCells` (with it, or both absent). */
  nanStarts?: Int32Array;
  /** Event time of each window's first cell start and last cell end, in ms. */
  starts: Float64Array;
  ends: Float64Array;
  /** Share of cells forward-filled, and bad or missing, per window. */
  filledShare: Float64Array;
  badShare: Float64Array;
  /** 1 when the window passes the missing-data policy and is to be scored. */
  sufficient: Uint8Array;
}

/** What a windower needs from a model manifest, plus the agent's late tolerance. */
export interface WindowSpec {
  tags: readonly string[];
  samplePeriodMs: number;
  windowLength: number;
  hop: number;
  forwardFillMaxAgeMs: number;
  maxFilledShare: number;
  maxBadShare: number;
  lateToleranceMs: number;
}

/**
 * The `nanCells` / `nanStarts` of windows made by hand (tests, benchmarks):
 * what the windower records while it cuts them. Scans every cell.
 */
export function listNanCells(windows: DueWindows): { nanCells: Int32Array; nanStarts: Int32Array } {
  const cells = windows.length * windows.tags;
  const nanStarts = new Int32Array(windows.count + 1);
  const found: number[] = [];
  for (let w = 0; w < windows.count; w++) {
    nanStarts[w] = found.length;
    if (windows.sufficient[w] !== 1) continue;
    const base = w * cells;
    for (let c = 0; c < cells; c++) if (Number.isNaN(windows.values[base + c])) found.push(c);
  }
  nanStarts[windows.count] = found.length;
  return { nanCells: Int32Array.from(found), nanStarts };
}
