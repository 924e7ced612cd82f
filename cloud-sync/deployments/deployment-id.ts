import { randomBytes } from 'node:crypto';

/**
 * `dep-<time base36>-<random>`: short enough to type after `vigil hub
 * rollback`, and ids sort by creation time (the time part keeps 8 digits
 * until the year 5188).
 */
export function newDeploymentId(now: number): string {
  return `dep-${Math.floor(now).toString(36).padStart(8, '0')}-${randomBytes(3).toString('hex')}`;
}
