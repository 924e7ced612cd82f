import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { api, type HubProcess } from './hub-process.js';
import { eventually } from './agent-process.js';
import { pump1TagLines } from './pca-package.js';

/** The plant's values change every 200 ms on a timer that drifts under load: models accept many filled cells. */
export const LENIENT_MISSING_DATA = { maxFilledShare: 0.95, maxBadShare: 0.5, forwardFillMaxAgeMs: 2000 };

export interface HubBodyRecord {
  seq: number;
  at: number;
  receivedAt: number;
  body: { model?: string; version?: string; shadow?: boolean; kind?: string; status?: string };
}

/**
 * Writes an agent.yaml reading the plant's pump 1 over OPC UA and syncing with
 * `hubUrl` (a proxy or the hub), or with the replicas `hubUrls` (written as
 * `urls:`; give one of the two).
 */
export function writeSyncedAgentConfig(
  dir: string,
  o: { id: string; endpoint: string; hubUrl?: string; hubUrls?: string[]; token: string; publicKeyPem: string; dataDir?: string; file?: string; extraSources?: string[]; extraTags?: string[]; caFile?: string },
): string {
  writeFileSync(join(dir, `${o.id}.token`), o.token + '\n');
  writeFileSync(join(dir, 'hub.pub'), o.publicKeyPem);
  const file = join(dir, o.file ?? `${o.id}.yaml`);
  writeFileSync(
    file,
    [
      `agent: { id: ${o.id}, dataDir: ./${o.dataDir ?? `state-${o.id}`} }`,
      'http: { port: 0 }',
      'models: { dir: ./models-' + o.id + ', lateToleranceMs: 300 }',
      'sources:',
      `  - { name: plc1, type: opcua, endpoint: "${o.endpoint}", publishingIntervalMs: 100 }`,
      ...(o.extraSources ?? []).map((line) => `  - ${line}`),
      'tags:',
      ...pump1TagLines(100),
      ...(o.extraTags ?? []).map((line) => `  - ${line}`),
      'hub:',
      ...(o.hubUrl !== undefined ? [`  url: ${o.hubUrl}`] : []),
      ...(o.hubUrls !== undefined ? [`  urls: [${o.hubUrls.join(', ')}]`] : []),
      `  tokenFile: ${o.id}.token`,
      '  publicKeyFile: hub.pub',
      '  heartbeatMs: 1000',
      '  reconnect: { initialDelayMs: 200, maxDelayMs: 1000 }',
      ...(o.caFile ? [`  caFile: ${o.caFile}`] : []),
    ].join('\n') + '\n',
  );
  return file;
}

/** Every score record the hub holds for an agent, ascending by seq, with the hub's own total. */
export async function hubScores(hub: HubProcess, token: string, agent: string): Promise<{ total: number; records: HubBodyRecord[] }> {
  const r = await api(hub.url, `/api/records/scores?agent=${agent}&limit=20000`, { token });
  expect(r.status).toBe(200);
  const records = (r.json.records as HubBodyRecord[]).slice().sort((a, b) => a.seq - b.seq);
  return { total: r.json.total as number, records };
}

/**
 * Exactly once, in order: seqs 1..N each once (the hub's count agrees), and
 * the hub received them in seq order (receive times never go back).
 */
export function expectGapFreeOnce(result: { total: number; records: HubBodyRecord[] }): void {
  const seqs = result.records.map((r) => r.seq);
  expect(seqs.length).toBeGreaterThan(0);
  expect(result.total).toBe(seqs.length);
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  for (let i = 1; i < result.records.length; i++) expect(result.records[i]!.receivedAt).toBeGreaterThanOrEqual(result.records[i - 1]!.receivedAt);
}

interface AgentHealthz {
  hub: { connected: boolean; skewMs: number | null; lastError: string | null; backlog: { scores: number; episodes: number; events: number } };
}

/** Waits until the agent's outbox has nothing left for the hub. */
export async function drained(agentUrl: string, timeoutMs = 30_000): Promise<void> {
  await eventually(async () => {
    const health = (await (await fetch(`${agentUrl}/healthz`)).json()) as AgentHealthz;
    const b = health.hub.backlog;
    return health.hub.connected && b.scores === 0 && b.episodes === 0 && b.events === 0 ? true : undefined;
  }, 'the agent backlog to drain', timeoutMs);
}

export async function agentHealth(agentUrl: string): Promise<AgentHealthz> {
  return (await (await fetch(`${agentUrl}/healthz`)).json()) as AgentHealthz;
}

export interface AgentModels {
  models: Array<{ name: string; active: string | null; shadow: string | null; previous: string | null; lastRefusal: { version: string; reason: string } | null }>;
}

export async function agentModels(agentUrl: string): Promise<AgentModels['models']> {
  return ((await (await fetch(`${agentUrl}/models`)).json()) as AgentModels).models;
}
