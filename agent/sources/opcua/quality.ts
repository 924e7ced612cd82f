import type { Quality } from '../../../shared/sample.js';

/**
 * OPC UA StatusCode → sample quality. The two top bits of the code are the
 * severity (Part 4, 7.39): 00 good, 01 uncertain, 10 bad (11 is reserved and
 * treated as bad). Sub-codes and info bits do not change the level.
 */
export function qualityOf(statusCodeValue: number): Quality {
  const severity = statusCodeValue >>> 30;
  if (severity === 0) return 'good';
  if (severity === 1) return 'uncertain';
  return 'bad';
}
