import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downsample } from '../../agent/episodes/downsample.js';
import { readModelPackage } from '../../agent/models/package-file.js';
import { openAgentStore } from '../../agent/store/open-store.js';
import { countAlarms, type AlarmCount } from '../../cloud-sync/training/count-alarms.js';
import type { TrainingSegment } from '../../cloud-sync/training/training-data.js';
import type { Episode } from '../../shared/episode.js';
import { silentLogger } from '../../shared/logger.js';
import type { ModelManifest } from '../../shared/model-manifest.js';
import type { Sample } from '../../shared/sample.js';
import { eventually, spawnVigil, type VigilProcess } from '../helpers/agent-process.js';
import { api, startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { drained } from '../helpers/sync-e2e.js';

/**
 * Retraining from answers with the answered episode's raw history, every part
 * a real process: a `vigil agent` whose store holds 100 minutes of a synthetic
 * pumped line at 1 s (written into its LMDB store before it starts, with the
 * episode it raised in its outbox), and a `vigil hub` that learns the parent
 * from that history, receives the episode, and retrains from the answer.
 *
 * The episode lasts 25 minutes at a new operating point (the pressure runs
 * 0.15 bar higher for the same flow): 1,800 samples per tag with its context,
 * squeezed to 500 min/max points in the snapshot it carries, too coarse for a
 * single 30-sample window. The candidate must learn it from the agent's raw
 * history, keep the parent's normal period, and still see a real fault.
 */

const TAGS = ['line1.flow', 'line1.pressure', 'line1.current', 'line1.temp'];
const AGENT = 'gw-raw';
const MODEL = 'line1-pca';
/** Whole seconds three hours ago: well inside the agent's 24 h history ring. */
const T0 = Math.floor((Date.now() - 3 * 3_600_000) / 1000) * 1000;
/** Seconds from T0: the parent's normal period, and the episode at the new operating point. */
const NORMAL = { from: 0, to: 3600 };
const EPISODE = { from: 4200, to: 5700 };
const RECORDED_S = 6000;
const SNAPSHOT_BEFORE_S = 300;
const SNAPSHOT_MAX_POINTS = 500;

/** A seeded normal random generator (LCG + Box–Muller), as in tests/unit/training-synthetic.test.ts. */
function gaussian(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) + 1) / 4294967297;
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

type Change = (second: number) => { pressure?: number; current?: number };

/** The pumped line, one sample a second from `from` to `to` (seconds after T0); `change` shifts the pressure or the motor current. */
function line(from: number, to: number, seed: number, change: Change = () => ({})): Array<{ tag: string; ts: number[]; values: number[] }> {
  const noise = gaussian(seed);
  const out = TAGS.map((tag) => ({ tag, ts: [] as number[], values: [] as number[] }));
  for (let t = from; t < to; t++) {
    const c = change(t);
    const flow = 50 + 5 * Math.sin((2 * Math.PI * t) / 600) + 0.5 * noise();
    const values = [flow, 2 + 0.04 * flow + 0.05 * noise() + (c.pressure ?? 0), 10 + 0.2 * flow + 0.2 * noise() + (c.current ?? 0), 60 + 0.5 * Math.sin((2 * Math.PI * t) / 1800) + 0.1 * noise()];
    out.forEach((s, k) => {
      s.ts.push(T0 + t * 1000);
      s.values.push(values[k]!);
    });
  }
  return out;
}

const atNewOperatingPoint: Change = (t) => (t >= EPISODE.from && t < EPISODE.to ? { pressure: 0.15 } : {});

function segment(series: ReturnType<typeof line>): TrainingSegment {
  return { source: { kind: 'csv', name: 'check' }, series: series.map((s) => ({ tag: s.tag, ts: Float64Array.from(s.ts), values: Float64Array.from(s.values) })) };
}

/** What the agent recorded (seed 1), and the episode it raised, with its snapshot downsampled as the agent does it. */
const recorded = line(0, RECORDED_S, 1, atNewOperatingPoint);
const episodeStart = T0 + EPISODE.from * 1000;
const episode: Episode = {
  id: `${AGENT}:${MODEL}:${episodeStart}`,
  revision: 3,
  agent: AGENT,
  model: MODEL,
  version: '1.0.0',
  start: episodeStart,
  end: T0 + (EPISODE.to - 1) * 1000,
  state: 'closed',
  peakScore: 40,
  meanScore: 25,
  windows: 300,
  topTags: [{ tag: 'line1.pressure', share: 0.9 }],
  thresholds: { warn: 7, alarm: 10 },
  snapshot: recorded.map((s) => {
    const keep = s.ts.map((t, i) => (t >= episodeStart - SNAPSHOT_BEFORE_S * 1000 && t < T0 + EPISODE.to * 1000 ? i : -1)).filter((i) => i >= 0);
    const reduced = downsample(
      keep.map((i) => s.ts[i]!),
      keep.map((i) => s.values[i]!),
      keep.map(() => 'good' as const),
      SNAPSHOT_MAX_POINTS,
    );
    return { tag: s.tag, ...reduced };
  }),
};

let dir: string;
let storeDir: string;
let configFile: string;
let hub: HubProcess;
let agent: VigilProcess | undefined;
let admin: string;
let operator: string;

async function startAgent(): Promise<void> {
  agent = spawnVigil(['agent', '--config', configFile]);
  const agentUrl = String((await agent.waitForLog('agent running', 60_000)).http);
  await drained(agentUrl);
}

async function stopAgent(): Promise<void> {
  agent?.child.kill('SIGTERM');
  await agent?.exited;
  agent = undefined;
  await eventually(async () => ((await api(hub.url, `/api/agents/${AGENT}`, { token: admin })).json.online === false ? true : undefined), 'the hub to see the agent offline');
}

async function retrain(version: string) {
  return api(hub.url, `/api/models/${MODEL}/versions/1.0.0/retrain`, { token: admin, body: { version } });
}

async function downloadModel(version: string): Promise<{ manifest: ModelManifest; onnxBytes: Uint8Array }> {
  const response = await fetch(`${hub.url}/api/models/${MODEL}/versions/${version}/package`, { headers: { authorization: `Bearer ${admin}` } });
  expect(response.status).toBe(200);
  return readModelPackage(Buffer.from(await response.arrayBuffer()), `${MODEL}@${version}`);
}

const share = (c: AlarmCount) => c.alarms / c.windows;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-retrain-raw-'));
  storeDir = join(dir, 'state', 'store');
  const store = await openAgentStore({ dir: storeDir, quotaBytes: 1024 ** 3, historyHours: 24, log: silentLogger(), agent: AGENT });
  const samples: Sample[] = [];
  for (let i = 0; i < RECORDED_S; i++) for (const s of recorded) samples.push({ tag: s.tag, ts: s.ts[i]!, value: s.values[i]!, quality: 'good' });
  store.history.append(samples);
  await store.history.flush();
  await store.outbox.append('episodes', [episode]);
  await store.close();

  hub = await startHubProcess({ sync: { heartbeatMs: 1000, offlineAfterMs: 5000 } });
  [admin, operator] = await Promise.all([hub.addApiToken('admin-ada', 'admin'), hub.addApiToken('op-olga', 'operator')]);
  const token = await hub.addAgent(AGENT);
  writeFileSync(join(dir, `${AGENT}.token`), token + '\n');
  writeFileSync(join(dir, 'hub.pub'), (await api(hub.url, '/api/signing-key')).text);
  configFile = join(dir, 'agent.yaml');
  writeFileSync(
    configFile,
    [
      `agent: { id: ${AGENT}, dataDir: ./state }`,
      'http: { port: 0 }',
      'hub:',
      `  url: ${hub.syncUrl.replace(/\/sync$/, '')}`,
      `  tokenFile: ${AGENT}.token`,
      '  publicKeyFile: hub.pub',
      '  heartbeatMs: 1000',
      '  reconnect: { initialDelayMs: 200, maxDelayMs: 1000 }',
    ].join('\n') + '\n',
  );
  await startAgent();
}, 120_000);

afterAll(async () => {
  agent?.child.kill('SIGTERM');
  await agent?.exited;
  await hub?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('retraining from the raw history of answered episodes (real hub and agent)', () => {
  it("learns the long episode from the agent's raw history, keeps the parent's normal period, and still alarms on a fault", async () => {
    // The parent: learnt on the hub from the agent's first hour.
    const trained = await api(hub.url, '/api/models/train', {
      token: admin,
      body: { agent: AGENT, tags: TAGS, from: T0 + NORMAL.from * 1000, to: T0 + (NORMAL.to - 1) * 1000, name: MODEL, version: '1.0.0', samplePeriodMs: 1000, windowLength: 30, hop: 5 },
    });
    expect(trained.status, trained.text).toBe(201);

    // The episode reached the hub from the agent's outbox, with a snapshot of at most 500 points per tag over its 1,800 s.
    const stored = await api(hub.url, `/api/episodes/${encodeURIComponent(episode.id)}`, { token: admin });
    expect(stored.status).toBe(200);
    for (const s of stored.json.episode.snapshot as Episode['snapshot']) expect(s.ts.length).toBeLessThanOrEqual(SNAPSHOT_MAX_POINTS);
    expect((await api(hub.url, `/api/episodes/${encodeURIComponent(episode.id)}/resolution`, { token: operator, body: { label: 'normal' } })).status).toBe(200);

    const result = await retrain('1.0.1');
    expect(result.status, result.text).toBe(201);
    expect(result.json.data).toEqual({
      answers: { rawHistory: 1, snapshot: 0 },
      parentSources: [{ kind: 'agent-history', name: AGENT, from: T0, to: T0 + (NORMAL.to - 1) * 1000, read: 'complete' }],
    });
    expect(result.json.resolutionsUsed).toBe(1);
    // ~300 windows of the answered stretch (1,500 s, hop 5): the parent alarms on nearly all, the candidate on (almost) none.
    const { comparison } = result.json;
    expect(comparison.windows).toBeGreaterThan(250);
    expect(comparison.parent.alarms).toBeGreaterThan(comparison.parent.windows * 0.9);
    expect(comparison.candidate.alarms).toBeLessThan(comparison.parent.alarms / 10);

    // The lineage: the parent's period read again, and the episode from its raw history (its context and 1,500 s at 1 s: far more than 500 points).
    const candidate = await downloadModel('1.0.1');
    const sources = candidate.manifest.lineage!.sources;
    expect(sources).toEqual([
      { kind: 'agent-history', name: AGENT, from: T0, to: T0 + (NORMAL.to - 1) * 1000, windows: expect.any(Number) },
      { kind: 'resolution', name: episode.id, from: episodeStart - SNAPSHOT_BEFORE_S * 1000, to: episode.end, windows: expect.any(Number), note: `raw history from ${AGENT}` },
    ]);
    expect(sources[0]!.windows).toBeGreaterThan(600);
    expect(sources[1]!.windows).toBeGreaterThan(300);
    expect(candidate.manifest.lineage).toMatchObject({ parent: `${MODEL}@1.0.0`, resolutionsUsed: 1 });

    // Scored as an agent scores (ONNX): neither alarms on the parent's normal period; the candidate not on the new operating point; both on a real fault.
    const parent = await downloadModel('1.0.0');
    const normal = [segment(line(NORMAL.from, NORMAL.to, 1))];
    const newPoint = [segment(line(EPISODE.from, EPISODE.to, 7, () => ({ pressure: 0.15 })))];
    const fault = [segment(line(0, 1800, 9, () => ({ current: 2 })))];
    expect(share(await countAlarms(parent.manifest, parent.onnxBytes, normal))).toBeLessThan(0.01);
    expect(share(await countAlarms(candidate.manifest, candidate.onnxBytes, normal))).toBeLessThan(0.01);
    expect(share(await countAlarms(candidate.manifest, candidate.onnxBytes, newPoint))).toBeLessThan(0.05);
    expect(share(await countAlarms(parent.manifest, parent.onnxBytes, fault))).toBeGreaterThan(0.9);
    expect(share(await countAlarms(candidate.manifest, candidate.onnxBytes, fault))).toBeGreaterThan(0.9);
  }, 120_000);

  it('uses what the agent still holds of the parent’s period when its disk quota evicted the rest, and says so', async () => {
    await stopAgent();
    const store = await openAgentStore({ dir: storeDir, quotaBytes: 1024 ** 3, historyHours: 24, log: silentLogger(), agent: AGENT });
    await store.history.evictBefore(T0 + 1800 * 1000);
    await store.close();
    await startAgent();

    const result = await retrain('1.0.2');
    expect(result.status, result.text).toBe(201);
    expect(result.json.data.answers).toEqual({ rawHistory: 1, snapshot: 0 });
    const [parentSource] = result.json.data.parentSources;
    expect(parentSource).toMatchObject({ kind: 'agent-history', name: AGENT, read: 'partial', note: expect.stringMatching(new RegExp(`^partly read again: ${AGENT} still held .* of ${new Date(T0).toISOString()} – `)) });

    const candidate = await downloadModel('1.0.2');
    const kept = candidate.manifest.lineage!.sources[0]!;
    expect(kept).toMatchObject({ kind: 'agent-history', name: AGENT, note: parentSource.note });
    // Blocks hold up to 60 s of a tag: what is left starts within a minute of the eviction point.
    expect(kept.from).toBeGreaterThanOrEqual(T0 + 1740 * 1000);
    expect(kept.from).toBeLessThanOrEqual(T0 + 1860 * 1000);
    expect(share(await countAlarms(candidate.manifest, candidate.onnxBytes, [segment(line(NORMAL.from, NORMAL.to, 1))]))).toBeLessThan(0.01);
  }, 120_000);

  it('falls back to the snapshot when the agent is offline, and says why the snapshot is not enough', async () => {
    await stopAgent();
    const result = await retrain('1.0.3');
    expect(result.status).toBe(400);
    expect(result.json.error.code).toBe('VIGIL_API_BAD_REQUEST');
    expect(result.json.error.message).toMatch(/gives no window of 30 samples/);
    expect(result.json.error.message).toMatch(new RegExp(`1 answered episode\\(s\\) could only be read from their downsampled snapshots \\(agent ${AGENT} is not connected to this hub.*\\): retrain with ${AGENT} online`));
    expect((await api(hub.url, `/api/models/${MODEL}/versions/1.0.3`, { token: admin })).status).toBe(404);
  }, 60_000);
});
