import { describe, expect, it } from 'vitest';
import type { AgentHealth, AgentView } from '../../cloud-sync/web/src/api/api-types.js';
import { agentProblems, backlogTotal } from '../../cloud-sync/web/src/pages/fleet/agent-problems.js';

/**
 * What the Fleet page highlights for a gateway (agent-problems.ts): each kind
 * of problem on its own, the words it is shown with, and what is not one.
 */

const NOW = Date.UTC(2025, 2, 1, 12);
const MIN = 60_000;

function health(fields: Partial<AgentHealth> = {}): AgentHealth {
  return {
    sourcesConnected: 2,
    sourcesTotal: 2,
    tagsLive: 12,
    tagsConfigured: 12,
    backlog: { scores: 0, episodes: 0, events: 0 },
    backlogBytes: 0,
    dropsTotal: 0,
    cpuPercent: 3,
    rssBytes: 80_000_000,
    uptimeS: 3600,
    status: 'ok',
    reasons: [],
    ...fields,
  };
}

/** An online gateway with nothing wrong. */
function agent(fields: Partial<AgentView> = {}): AgentView {
  return {
    id: 'gw-1',
    labels: { line: '1' },
    online: true,
    connectedTo: 'hub-a',
    lastSeenAt: NOW - 2_000,
    createdAt: NOW - 60 * MIN,
    revoked: false,
    revokedAt: null,
    software: '0.1.0',
    epoch: 'e1',
    models: [],
    health: health(),
    skewMs: 40,
    skewed: false,
    ...fields,
  };
}

const kinds = (view: AgentView, previousBacklog?: number) => agentProblems(view, previousBacklog, NOW).map((p) => p.kind);
const only = (view: AgentView, previousBacklog?: number) => {
  const problems = agentProblems(view, previousBacklog, NOW);
  expect(problems).toHaveLength(1);
  return problems[0]!;
};

describe('agentProblems', () => {
  it('finds nothing wrong with an online gateway whose sources, tags, clock and outbox are fine', () => {
    expect(agentProblems(agent(), 0, NOW)).toEqual([]);
    // Online before its first heartbeat: no health yet is not a problem by itself.
    expect(agentProblems(agent({ health: null }), undefined, NOW)).toEqual([]);
  });

  it('says when an offline gateway was last seen', () => {
    expect(only(agent({ online: false, lastSeenAt: NOW - 5 * MIN }))).toEqual({ kind: 'offline', text: 'offline, last seen 5 min ago' });
    // Its last health still counts: offline with sources down shows both.
    expect(kinds(agent({ online: false, health: health({ sourcesConnected: 0 }) }))).toEqual(['offline', 'sources-down']);
  });

  it('shows a revoked or never connected gateway as that alone', () => {
    expect(only(agent({ revoked: true, revokedAt: NOW - MIN, online: false, health: health({ dropsTotal: 5 }) }))).toEqual({ kind: 'revoked', text: 'token revoked: the gateway cannot connect' });
    expect(only(agent({ online: false, lastSeenAt: null, health: null, skewMs: null }))).toEqual({ kind: 'never-connected', text: 'never connected: install the token on the gateway' });
  });

  it('flags a clock skew the hub judged too large, with its size, and not a small one', () => {
    expect(only(agent({ skewed: true, skewMs: 2_500 }))).toEqual({ kind: 'skewed', text: 'clock off by +2.5 s' });
    expect(only(agent({ skewed: true, skewMs: -800 })).text).toBe('clock off by −800 ms');
    expect(kinds(agent({ skewed: false, skewMs: 900 }))).toEqual([]);
    expect(kinds(agent({ skewed: true, skewMs: null }))).toEqual([]);
  });

  it('flags a backlog only while it grows between refreshes', () => {
    const waiting = agent({ health: health({ backlog: { scores: 1_200, episodes: 3, events: 7 } }) });
    expect(backlogTotal(waiting)).toBe(1_210);
    expect(only(waiting, 200)).toEqual({ kind: 'backlog-growing', text: 'backlog growing (+1,010 since the last refresh)' });
    expect(kinds(waiting, 1_210)).toEqual([]);
    expect(kinds(waiting, 5_000)).toEqual([]);
    // The first refresh has nothing to compare with.
    expect(kinds(waiting, undefined)).toEqual([]);
    expect(backlogTotal(agent({ health: null }))).toBeNull();
  });

  it('counts sources down and tags not live', () => {
    expect(only(agent({ health: health({ sourcesConnected: 1, sourcesTotal: 3 }) }))).toEqual({ kind: 'sources-down', text: '2 of 3 sources disconnected' });
    expect(only(agent({ health: health({ tagsLive: 9, tagsConfigured: 12 }) }))).toEqual({ kind: 'tags-not-live', text: '3 of 12 tags not live' });
  });

  it('flags drops only while they rise: since the previous refresh', () => {
    const dropping = agent({ health: health({ dropsTotal: 12_345 }) });
    expect(agentProblems(dropping, undefined, NOW, 12_000)).toEqual([{ kind: 'drops', text: 'dropping: +345 since the last refresh (12,345 since the agent started)' }]);
    // Dropped long ago, not since: the Drops column shows the total, the row is not a problem.
    expect(agentProblems(dropping, undefined, NOW, 12_345)).toEqual([]);
    // The first refresh has nothing to compare with; a restarted agent counts from 0 again.
    expect(agentProblems(dropping, undefined, NOW)).toEqual([]);
    expect(agentProblems(agent({ health: health({ dropsTotal: 3 }) }), undefined, NOW, 12_345)).toEqual([]);
  });

  it('passes on the reasons of a degraded agent', () => {
    expect(only(agent({ health: health({ status: 'degraded', reasons: ['store 91% full', 'model fault'] }) }))).toEqual({ kind: 'degraded', text: 'degraded: store 91% full; model fault' });
    expect(only(agent({ health: health({ status: 'degraded', reasons: [] }) })).text).toBe('degraded: no reason given');
  });

  it('lists every problem at once, in a fixed order', () => {
    const everything = agent({
      online: false,
      lastSeenAt: NOW - 3 * MIN,
      skewed: true,
      skewMs: 61_000,
      health: health({ status: 'degraded', reasons: ['x'], backlog: { scores: 50, episodes: 0, events: 0 }, sourcesConnected: 0, tagsLive: 0, dropsTotal: 1 }),
    });
    expect(agentProblems(everything, 10, NOW, 0).map((p) => p.kind)).toEqual(['offline', 'degraded', 'skewed', 'backlog-growing', 'sources-down', 'tags-not-live', 'drops']);
  });
});
