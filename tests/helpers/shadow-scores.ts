import type { ScoreLevel } from '../../shared/model-manifest.js';
import type { WindowResult } from '../../shared/window-result.js';
import { api, type HubProcess } from './hub-process.js';
import { pcaPackage, PUMP1_TAGS } from './pca-package.js';
import { batch, connectSync, hello } from './raw-sync-client.js';

/** A window result as an agent's model host sends it; null level: insufficient data. */
export function scoreResult(o: { model: string; version: string; shadow: boolean; end: number; level: ScoreLevel | null }): WindowResult {
  const scored = o.level !== null;
  return {
    model: o.model,
    version: o.version,
    shadow: o.shadow,
    start: o.end - 60_000,
    end: o.end,
    status: scored ? 'scored' : 'insufficient_data',
    score: scored ? { normal: 0.4, warn: 1.5, alarm: 4 }[o.level!] : null,
    level: o.level,
    contributions: null,
    quality: { filledShare: 0, badShare: 0 },
  };
}

/** `n` windows `stepMs` apart from `t0`, each scored by the active version and by the candidate in shadow. */
export function pairedScores(o: {
  model: string;
  active: string;
  candidate: string;
  t0: number;
  stepMs: number;
  n: number;
  activeLevel: (i: number) => ScoreLevel;
  candidateLevel: (i: number) => ScoreLevel;
}): WindowResult[] {
  const out: WindowResult[] = [];
  for (let i = 0; i < o.n; i++) {
    const end = o.t0 + i * o.stepMs;
    out.push(scoreResult({ model: o.model, version: o.active, shadow: false, end, level: o.activeLevel(i) }));
    out.push(scoreResult({ model: o.model, version: o.candidate, shadow: true, end, level: o.candidateLevel(i) }));
  }
  return out;
}

/** Registers versions of a PCA model through the API (admin token). */
export async function uploadVersions(hub: HubProcess, admin: string, model: string, versions: string[]): Promise<void> {
  for (const version of versions) {
    const bytes = await pcaPackage({ name: model, version, tags: PUMP1_TAGS, samplePeriodMs: 1000 });
    const upload = await fetch(`${hub.url}/api/models`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/octet-stream' }, body: bytes });
    if (upload.status !== 201) throw new Error(`uploading ${model}@${version} answered ${upload.status}: ${await upload.text()}`);
  }
}

/** Enrols an agent through the API; its token. */
export async function enrolAgent(hub: HubProcess, admin: string, id: string): Promise<string> {
  const enrolled = await api(hub.url, '/api/agents', { token: admin, body: { id } });
  if (enrolled.status !== 201) throw new Error(`enrolling ${id} answered ${enrolled.status}: ${enrolled.text}`);
  return enrolled.json.token as string;
}

/** Sends score results over the sync protocol as the agent would (hello, batches, each acked), then disconnects. */
export async function sendScores(hub: HubProcess, agent: string, token: string, results: WindowResult[], batchSize = 1_500): Promise<void> {
  const client = await connectSync(hub.syncUrl, agent, token);
  try {
    const epoch = `${agent}-epoch`;
    client.send(hello(agent, epoch));
    await client.next('welcome');
    for (let first = 1; first <= results.length; first += batchSize) {
      const bodies = results.slice(first - 1, first - 1 + batchSize);
      client.send(batch('scores', epoch, first, bodies));
      const ack = await client.next('ack', 15_000);
      if (ack.upTo !== first + bodies.length - 1) throw new Error(`the hub acked up to ${ack.upTo}, not ${first + bodies.length - 1}`);
    }
  } finally {
    await client.close();
  }
}
