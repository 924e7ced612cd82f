import type { ScoreLevel } from './model-manifest.js';

/** Share of a window's cells that were forward-filled, and bad or missing. */
export interface WindowQuality {
  filledShare: number;
  badShare: number;
}

/**
 * The outcome of one window of one model version. `status: 'insufficient_data'`
 * windows carry no score: too many cells were filled or bad (see the manifest's
 * missingData policy). Times are event time (source timestamps), in ms.
 */
export interface WindowResult {
  model: string;
  version: string;
  /** True when a candidate version scored the window beside the active one. */
  shadow: boolean;
  /** Event time of the first cell's start and the last cell's end. */
  start: number;
  end: number;
  status: 'scored' | 'insufficient_data';
  score: number | null;
  level: ScoreLevel | null;
  /** Per tag (manifest order), when the model has a contributions output. */
  contributions: Record<string, number> | null;
  quality: WindowQuality;
}
