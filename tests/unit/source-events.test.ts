import { describe, expect, it } from 'vitest';
import { SourceEventWatcher } from '../../agent/events/source-events.js';
import { emptyCounters, type Source } from '../../agent/sources/source.js';
import type { AgentEvent } from '../../shared/episode.js';

function fakeSource(state: { connected: boolean }): Source {
  return {
    name: 'plc1',
    type: 'opcua',
    start: async () => {},
    stop: async () => {},
    health: () => ({ name: 'plc1', type: 'opcua', connected: state.connected, state: state.connected ? 'connected' : 'reconnecting (connection lost)', since: 0, tagsConfigured: 3 }),
    counters: emptyCounters,
  };
}

describe('SourceEventWatcher', () => {
  it('raises one event per change of connection, with how long the source was away', () => {
    const state = { connected: true };
    const events: AgentEvent[] = [];
    let now = 1_000;
    const watcher = new SourceEventWatcher('gw', () => [fakeSource(state)], (e) => events.push(e), () => now);
    watcher.check();
    expect(events).toEqual([]);
    state.connected = false;
    now = 5_000;
    watcher.check();
    watcher.check();
    state.connected = true;
    now = 35_000;
    watcher.check();
    expect(events.map((e) => [e.kind, e.subject, e.at])).toEqual([
      ['source_disconnected', 'plc1', 5_000],
      ['source_connected', 'plc1', 35_000],
    ]);
    expect(events[0]?.message).toContain('reconnecting (connection lost)');
    expect(events[1]?.details).toMatchObject({ downMs: 30_000 });
  });
});
