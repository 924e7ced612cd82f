import { describe, expect, it } from 'vitest';
import { AgentHealthSchema, MAX_BATCH_BYTES } from '../../shared/sync-protocol.js';
import { assessHealth, HUB_UNREACHABLE_DEGRADED_MS } from '../../agent/http/health.js';
import { SamplePipeline } from '../../agent/pipeline/sample-pipeline.js';
import type { OutboxRecord, OutboxStreamStats } from '../../agent/store/outbox.js';
import { HealthSampler } from '../../agent/sync/agent-health.js';
import { hubAddress, packageUrl } from '../../agent/sync/hub-address.js';
import type { HubLinkStatus } from '../../agent/sync/link-state.js';
import { reconnectDelay } from '../../agent/sync/reconnect-delay.js';
import { takeBatch } from '../../agent/sync/take-batch.js';
import { TagTable } from '../../agent/tags/tag-table.js';

const record = (seq: number, bytes: number): OutboxRecord => ({ seq, at: 0, body: null, bytes });

describe('takeBatch', () => {
  it('takes records in order while their bytes fit', () => {
    const records = [record(1, 400), record(2, 400), record(3, 400)];
    expect(takeBatch(records, 1000)).toEqual({ records: records.slice(0, 2), oversized: false });
    expect(takeBatch(records, 1200).records).toHaveLength(3);
  });

  it('sends a record larger than a batch alone, marked, instead of skipping it', () => {
    const records = [record(7, MAX_BATCH_BYTES + 1), record(8, 10)];
    expect(takeBatch(records, MAX_BATCH_BYTES)).toEqual({ records: [records[0]], oversized: true });
  });
});

describe('hub address', () => {
  it('derives the websocket endpoint and the HTTP base, keeping a path prefix', () => {
    expect(hubAddress('wss://hub.plant.local:8720')).toEqual({ syncUrl: 'wss://hub.plant.local:8720/sync', httpBase: 'https://hub.plant.local:8720' });
    expect(hubAddress('ws://10.0.0.5:8720/vigil/')).toEqual({ syncUrl: 'ws://10.0.0.5:8720/vigil/sync', httpBase: 'http://10.0.0.5:8720/vigil' });
    expect(() => hubAddress('http://hub:8720')).toThrow(/ws:\/\/ or wss:\/\//);
  });

  it('only downloads from a path on the hub, so the token never goes elsewhere', () => {
    const address = hubAddress('wss://hub:8720');
    expect(packageUrl(address, '/api/models/m/versions/1.0.0/package')).toBe('https://hub:8720/api/models/m/versions/1.0.0/package');
    expect(() => packageUrl(address, 'https://evil.example/p')).toThrow(/not a path on the hub/);
    expect(() => packageUrl(address, '//evil.example/p')).toThrow(/not a path on the hub/);
  });
});

describe('reconnectDelay', () => {
  const reconnect = { initialDelayMs: 1000, maxDelayMs: 60_000 };
  it('backs off exponentially with jitter up to maxDelayMs', () => {
    expect(reconnectDelay(1, false, reconnect, () => 1)).toBe(1000);
    expect(reconnectDelay(1, false, reconnect, () => 0)).toBe(500);
    expect(reconnectDelay(4, false, reconnect, () => 1)).toBe(8000);
    expect(reconnectDelay(30, false, reconnect, () => 1)).toBe(60_000);
  });

  it('waits longer after a refused token: from maxDelayMs up to at least 5 minutes', () => {
    expect(reconnectDelay(1, true, reconnect, () => 1)).toBe(60_000);
    expect(reconnectDelay(10, true, reconnect, () => 1)).toBe(300_000);
    expect(reconnectDelay(10, true, { initialDelayMs: 1000, maxDelayMs: 600_000 }, () => 1)).toBe(600_000);
  });
});

describe('/healthz and the hub link', () => {
  const status = (over: Partial<HubLinkStatus>): HubLinkStatus => ({
    url: 'wss://hub:8720',
    urls: ['wss://hub:8720'],
    failovers: 0,
    state: 'waiting',
    connected: false,
    lastConnectedAt: null,
    unreachableSince: 0,
    lastError: 'ECONNREFUSED: connect ECONNREFUSED 10.0.0.5:8720',
    skewMs: null,
    counters: { recordsSent: { scores: 0, episodes: 0, events: 0 }, acked: { scores: 0, episodes: 0, events: 0 }, reconnects: 3, protocolErrors: 0 },
    ...over,
  });
  const backlog = { scores: 1200, episodes: 3, events: 1, bytes: 500_000 };
  const pipeline = new SamplePipeline(10);

  it('is ok while the hub is away briefly: the outbox absorbs it', () => {
    const report = assessHealth([], pipeline, 0, { status: status({}), backlog }, () => HUB_UNREACHABLE_DEGRADED_MS - 1);
    expect(report.status).toBe('ok');
    expect(report.hub).toMatchObject({ configured: true, connected: false, backlog });
    expect(report.hub).not.toHaveProperty('counters');
  });

  it('is degraded, saying why, when the hub has been away for long or refused the token', () => {
    const away = assessHealth([], pipeline, 0, { status: status({}), backlog }, () => HUB_UNREACHABLE_DEGRADED_MS + 120_000);
    expect(away.status).toBe('degraded');
    expect(away.reasons).toEqual(['the hub wss://hub:8720 has been unreachable for 7 min (ECONNREFUSED: connect ECONNREFUSED 10.0.0.5:8720); 1204 records wait in the outbox']);
    const refused = assessHealth([], pipeline, 0, { status: status({ state: 'unauthorized', lastError: 'the hub refused the agent token (HTTP 401)' }), backlog }, () => 1000);
    expect(refused.reasons[0]).toMatch(/refused this agent's token .*fix hub.tokenFile or hub.tokenEnv/);
    expect(assessHealth([], pipeline, 0).hub).toEqual({ configured: false });
  });
});

describe('HealthSampler', () => {
  it('builds a heartbeat health the protocol accepts', () => {
    const tags = new TagTable();
    tags.configure([{ name: 'a', source: 's' }, { name: 'b', source: 's' }]);
    const stats = (pendingCount: number): OutboxStreamStats => ({ next: 1, acked: 0, durable: 0, pendingCount, pendingBytes: pendingCount * 100, oldestPendingAt: null });
    let t = 0;
    const sampler = new HealthSampler(
      {
        sources: () => [{ health: () => ({ connected: true }) }, { health: () => ({ connected: false }) }],
        tags,
        outbox: { stats: () => ({ scores: stats(5), episodes: stats(1), events: stats(0) }) },
        dropsTotal: () => 12,
        assess: () => ({ status: 'degraded', reasons: Array.from({ length: 60 }, (_, i) => `reason ${i}`) }),
        startedAt: 0,
      },
      () => t,
    );
    t = 10_000;
    const health = sampler.sample();
    expect(AgentHealthSchema.parse(health)).toEqual(health);
    expect(health).toMatchObject({ sourcesConnected: 1, sourcesTotal: 2, tagsConfigured: 2, backlog: { scores: 5, episodes: 1, events: 0 }, backlogBytes: 600, dropsTotal: 12, status: 'degraded' });
    expect(health.reasons).toHaveLength(50);
    expect(health.uptimeS).toBe(10);
  });
});
