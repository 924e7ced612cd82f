import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextDigestAt } from '../../cloud-sync/digest/digest-schedule.js';

const MINUTE = 60_000;
const DAY = 1440 * MINUTE;

describe('when the next digest goes out', () => {
  const previousTz = process.env.TZ;
  beforeAll(() => {
    // A zone with daylight saving: local times must survive the change.
    process.env.TZ = 'Europe/Berlin';
  });
  afterAll(() => {
    if (previousTz === undefined) delete process.env.TZ;
    else process.env.TZ = previousTz;
  });

  it('without `at`: one period after the previous send', () => {
    const after = Date.UTC(2025, 5, 1, 12, 34, 56);
    expect(nextDigestAt(after, DAY)).toBe(after + DAY);
    expect(nextDigestAt(after, 1200)).toBe(after + 1200);
  });

  it('with `at`: the next local HH:MM, today or tomorrow', () => {
    // 2025-06-01 is summer time in Berlin (UTC+2): 07:30 local = 05:30Z.
    expect(nextDigestAt(Date.UTC(2025, 5, 1, 4, 0), DAY, '07:30')).toBe(Date.UTC(2025, 5, 1, 5, 30));
    expect(nextDigestAt(Date.UTC(2025, 5, 1, 5, 30), DAY, '07:30')).toBe(Date.UTC(2025, 5, 2, 5, 30));
    expect(nextDigestAt(Date.UTC(2025, 5, 1, 5, 30, 0, 5), DAY, '07:30')).toBe(Date.UTC(2025, 5, 2, 5, 30));
    expect(nextDigestAt(Date.UTC(2025, 5, 1, 21, 0), DAY, '07:30')).toBe(Date.UTC(2025, 5, 2, 5, 30));
  });

  it('with `at` and a shorter period: slots at HH:MM plus whole periods', () => {
    // every 8 h at 06:00 local: 06:00, 14:00, 22:00 (04:00Z, 12:00Z, 20:00Z in summer).
    expect(nextDigestAt(Date.UTC(2025, 5, 1, 4, 0), 480 * MINUTE, '06:00')).toBe(Date.UTC(2025, 5, 1, 12, 0));
    expect(nextDigestAt(Date.UTC(2025, 5, 1, 13, 0), 480 * MINUTE, '06:00')).toBe(Date.UTC(2025, 5, 1, 20, 0));
    expect(nextDigestAt(Date.UTC(2025, 5, 1, 2, 0), 480 * MINUTE, '06:00')).toBe(Date.UTC(2025, 5, 1, 4, 0));
  });

  it('keeps the local time across a daylight-saving change, and weekly periods count calendar days', () => {
    // Berlin moves to summer time on 2025-03-30: 07:30 local is 06:30Z before, 05:30Z after.
    expect(nextDigestAt(Date.UTC(2025, 2, 29, 6, 30), DAY, '07:30')).toBe(Date.UTC(2025, 2, 30, 5, 30));
    expect(nextDigestAt(Date.UTC(2025, 2, 27, 6, 30), 7 * DAY, '07:30')).toBe(Date.UTC(2025, 3, 3, 5, 30));
  });
});
