/**
 * Windows of one model that are due for scoring, as plain typed arrays so the
 * batch can be handed to the scoring worker without per-window objects.
 * Values are event-time resampled cells in [window][time][tag] order (the
 * model's `batch,time,tag` layout before any transposition or scaling); NaN
 * marks a cell with no usable value (missing, or bad quality).
 */
export interface DueWindows {
  /** Windows in this batch. */
  count: number;
  /** Cells per window on the time axis (the manifest's windowLength). */
  length: number;
  /** Tags per cell (the manifest's tag count, in manifest order). */
  tags: number;
  /** count × length × tags values. */
  values: Float64Array;
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
