import { afterEach, describe, expect, it } from 'vitest';
import { assessHealth } from '../../agent/http/health.js';
import { createMetricsRegistry } from '../../agent/http/metrics.js';
import { startAgentHttp, type AgentHttpServer } from '../../agent/http/server.js';
import { SamplePipeline } from '../../agent/pipeline/sample-pipeline.js';
import { emptyCounters, type Source, type SourceCounters } from '../../agent/sources/source.js';
import { TagTable } from '../../agent/tags/tag-table.js';

/** A fake source: enough to exercise health and metrics without sockets. */
function fakeSource(name: string, type: 'opcua' | 'mqtt', connected: boolean, counters: Partial<SourceCounters> = {}): Source {
  return {
    name,
    type,
    start: async () => {},
    stop: async () => {},
    health: () => ({ name, type, connected, state: connected ? 'connected' : 'connecting (attempt 2)', since: 0, tagsConfigured: 1, ...(connected ? {} : { lastError: 'ECONNREFUSED' }) }),
    counters: () => ({ ...emptyCounters(), ...counters }),
  };
}

let server: AgentHttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(sources: Source[]) {
  const pipeline = new SamplePipeline(4);
  const tags = new TagTable();
  tags.configure([{ name: 'pump1.temp', source: 'plc1' }]);
  pipeline.subscribe(tags.consume);
  server = await startAgentHttp('127.0.0.1', 0, {
    health: () => assessHealth(sources, pipeline, Date.now()),
    tags: () => tags.list(),
    metrics: createMetricsRegistry({ sources: () => sources, pipeline, tags }),
  });
  return { pipeline, tags, url: server.url };
}

describe('agent HTTP endpoints', () => {
  it('/healthz is 200 when every source is connected and 503 with reasons otherwise', async () => {
    const ok = await serve([fakeSource('plc1', 'opcua', true)]);
    const res = await fetch(`${ok.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', reasons: [] });
    await server?.close();

    const bad = await serve([fakeSource('plc1', 'opcua', true), fakeSource('broker', 'mqtt', false)]);
    const res2 = await fetch(`${bad.url}/healthz`);
    expect(res2.status).toBe(503);
    const body = (await res2.json()) as { reasons: string[] };
    expect(body.reasons).toEqual(['source broker (mqtt) is not connected: connecting (attempt 2) — ECONNREFUSED']);
  });

  it('/metrics exposes source and pipeline counters in Prometheus text', async () => {
    const { pipeline, url } = await serve([fakeSource('broker', 'mqtt', true, { samples: 12, dropped: { malformed_json: 3 }, reconnects: 2 })]);
    for (let i = 0; i < 6; i++) pipeline.push({ tag: 'pump1.temp', ts: i, value: i, quality: 'good' });
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toContain('vigil_source_samples_total{source="broker",type="mqtt"} 12');
    expect(text).toContain('vigil_source_dropped_total{source="broker",type="mqtt",reason="malformed_json"} 3');
    expect(text).toContain('vigil_source_reconnects_total{source="broker",type="mqtt"} 2');
    expect(text).toContain('vigil_source_connected{source="broker",type="mqtt"} 1');
    expect(text).toContain('vigil_pipeline_received_total 6');
    expect(text).toContain('vigil_pipeline_dropped_total{reason="overflow"} 2');
    expect(text).toMatch(/nodejs_eventloop_lag_p99_seconds \d/);
  });

  it('/tags lists every tag as JSON, or as a table with ?format=text', async () => {
    const { pipeline, url } = await serve([]);
    pipeline.push({ tag: 'pump1.temp', ts: Date.now(), value: 41.5, quality: 'good' });
    pipeline.push({ tag: 'pump1.flow', ts: Date.now(), value: Number.NaN, quality: 'bad' });
    await new Promise((r) => setImmediate(r));
    const json = (await (await fetch(`${url}/tags`)).json()) as { tags: Array<{ tag: string; value: number | null; quality: string; samples: number }> };
    expect(json.tags.map((t) => [t.tag, t.value, t.quality, t.samples])).toEqual([
      ['pump1.flow', null, 'bad', 1],
      ['pump1.temp', 41.5, 'good', 1],
    ]);
    const text = await (await fetch(`${url}/tags?format=text`)).text();
    expect(text.split('\n')[0]).toMatch(/^TAG\s+SOURCE\s+VALUE\s+QUALITY\s+AGE\s+SAMPLES\s+LAST ERROR$/);
    expect(text).toMatch(/pump1\.temp\s+plc1\s+41\.5\s+good/);
    expect((await fetch(`${url}/nope`)).status).toBe(404);
  });
});
