import { describe, expect, it } from 'vitest';
import { DropReporter, type DropCounts } from '../../agent/events/drop-events.js';
import type { AgentEvent } from '../../shared/episode.js';

describe('DropReporter', () => {
  it('reports only what was dropped since the last report, and nothing when nothing was', () => {
    let counts: DropCounts = { 'source:broker/malformed_json': 2 };
    const events: AgentEvent[] = [];
    const reporter = new DropReporter('gw', () => counts, (e) => events.push(e), () => 42);
    reporter.report();
    expect(events).toEqual([]);
    counts = { 'source:broker/malformed_json': 5, 'pipeline/overflow': 10, 'window:pca/late_sample': 0 };
    reporter.report();
    reporter.report();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'samples_dropped', at: 42, details: { total: 13, byReason: { 'pipeline/overflow': 10, 'source:broker/malformed_json': 3 } } });
    expect(events[0]?.message).toBe('13 samples dropped: 10 pipeline/overflow, 3 source:broker/malformed_json');
  });
});
