import { VigilError } from '../../shared/errors.js';

export const DEMO_MODEL = 'pump1-baseline';
/** Pump 1's analog signals: what the baseline learns. */
export const DEMO_MODEL_TAGS = ['pump1.flowrate', 'pump1.pressure', 'pump1.temperature', 'pump1.vibration'];

/**
 * Learns pump 1's normal behaviour from the agent's raw history and deploys
 * it back to the agent, through the hub's API (`POST /api/models/train`, then
 * `POST /api/deployments`): what an engineer would do from the web app.
 * Returns the version trained.
 */
export async function trainAndDeployBaseline(p: { hubUrl: string; apiToken: string; agent: string; from: number; to: number; samplePeriodMs: number }): Promise<string> {
  const trained = await call(p, '/api/models/train', {
    agent: p.agent,
    tags: DEMO_MODEL_TAGS,
    from: p.from,
    to: p.to,
    name: DEMO_MODEL,
    samplePeriodMs: p.samplePeriodMs,
    windowLength: 10,
    hop: 1,
    description: 'Normal behaviour of pump 1, learned by `vigil demo` from the first minutes of the simulation.',
    // The simulator's timer drifts under load: accept forward-filled cells.
    missingData: { maxFilledShare: 0.95, maxBadShare: 0.5, forwardFillMaxAgeMs: p.samplePeriodMs * 10 },
  });
  const version = String((trained.record as { version: unknown }).version);
  await call(p, '/api/deployments', { model: DEMO_MODEL, version, agents: [p.agent], mode: 'activate' });
  return version;
}

async function call(p: { hubUrl: string; apiToken: string }, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${p.hubUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${p.apiToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new VigilError('VIGIL_API_BAD_REQUEST', `POST ${path} answered ${res.status}: ${text}`, { details: { status: res.status } });
  return JSON.parse(text) as Record<string, unknown>;
}
