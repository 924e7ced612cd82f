import type { Episode } from '../../api/api-types.js';

export type Severity = 'alarm' | 'warn';

/** Alarm when the peak reached the alarm threshold (the hub sorts by the same rule). */
export function severityOf(episode: Pick<Episode, 'peakScore' | 'thresholds'>): Severity {
  return episode.peakScore >= episode.thresholds.alarm ? 'alarm' : 'warn';
}
