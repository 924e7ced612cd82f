import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../cloud-sync/cli/parse-duration.js';

describe('shadow durations on the command line', () => {
  it('reads a number with a unit, and combinations', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration(' 0s ')).toBe(0);
  });

  it('refuses bare numbers and anything else, saying what to write', () => {
    for (const bad of ['10', '', 'm', '10 m', '10x', '-5m', 'h1', '1h30']) {
      expect(() => parseDuration(bad), bad).toThrow(/is not a duration; write a number and a unit, e\.g\. 30s, 10m/);
    }
  });

  it('prints durations the way they are written', () => {
    expect(formatDuration(600_000)).toBe('10m');
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(90_061_500)).toBe('1d1h1m1s500ms');
    expect(formatDuration(0)).toBe('0s');
    for (const text of ['30s', '2h', '1d', '1h30m']) expect(formatDuration(parseDuration(text))).toBe(text);
  });
});
