import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres-test-db.js';
import { enrolAgent, pairedScores, scoreResult, sendScores, uploadVersions } from '../helpers/shadow-scores.js';

/**
 * GET /api/deployments/:id/comparison on a real hub process, LMDB and
 * PostgreSQL: scores arrive over the sync websocket as an agent sends them,
 * and the candidate in shadow is compared with the active version on the
 * windows both scored. 6,000 paired windows (12,000 records in batches of
 * 1,500) are more than one page the comparison reads at a time, so the
 * paging through batches that share a receive time runs on both backends.
 */

const MODEL = 'pump-pca';
const T0 = Date.UTC(2026, 2, 9, 6, 0, 0);
const STEP_MS = 10_000;
const WINDOWS = 6_000;
const DAY_MS = 86_400_000;

// Known levels: the candidate alarms on 12 windows and warns on 6; the active version alarms on 120 and warns on 60.
const gw1Scores = [
  ...pairedScores({
    model: MODEL,
    active: '1.0.0',
    candidate: '1.1.0',
    t0: T0,
    stepMs: STEP_MS,
    n: WINDOWS,
    activeLevel: (i) => (i % 50 === 0 ? 'alarm' : i % 100 === 25 ? 'warn' : 'normal'),
    candidateLevel: (i) => (i % 500 === 7 ? 'alarm' : i % 1000 === 3 ? 'warn' : 'normal'),
  }),
  // Not on the same windows, so not compared: one side only, and a window the candidate had too little data for.
  scoreResult({ model: MODEL, version: '1.0.0', shadow: false, end: T0 + WINDOWS * STEP_MS, level: 'alarm' }),
  scoreResult({ model: MODEL, version: '1.1.0', shadow: true, end: T0 + (WINDOWS + 1) * STEP_MS, level: 'alarm' }),
  scoreResult({ model: MODEL, version: '1.0.0', shadow: false, end: T0 + (WINDOWS + 2) * STEP_MS, level: 'alarm' }),
  scoreResult({ model: MODEL, version: '1.1.0', shadow: true, end: T0 + (WINDOWS + 2) * STEP_MS, level: null }),
];
// A gateway outside the deployment that shadows the same candidate: not this deployment's data.
const gw3Scores = pairedScores({ model: MODEL, active: '1.0.0', candidate: '1.1.0', t0: T0, stepMs: STEP_MS, n: 50, activeLevel: () => 'alarm', candidateLevel: () => 'alarm' });

const backends = [
  { name: 'LMDB', postgres: false },
  { name: 'PostgreSQL', postgres: true },
];

describe.each(backends)('shadow comparison on $name', ({ postgres }) => {
  let db: TestDatabase | undefined;
  let hub: HubProcess;
  let viewer: string;
  let shadowId: string;
  let activateId: string;

  beforeAll(async () => {
    db = postgres ? await createTestDatabase() : undefined;
    hub = await startHubProcess(db ? { postgres: { url: db.url } } : {});
    const admin = await hub.addApiToken('admin-ada', 'admin');
    viewer = await hub.addApiToken('viewer-vic', 'viewer');
    await uploadVersions(hub, admin, MODEL, ['1.0.0', '1.1.0']);
    const tokens = new Map<string, string>();
    for (const id of ['gw1', 'gw2', 'gw3']) tokens.set(id, await enrolAgent(hub, admin, id));
    const shadow = await api(hub.url, '/api/deployments', { token: admin, body: { model: MODEL, version: '1.1.0', agents: ['gw1', 'gw2'], shadowMs: 86_400_000 } });
    expect(shadow.status, shadow.text).toBe(201);
    shadowId = shadow.json.id;
    const activate = await api(hub.url, '/api/deployments', { token: admin, body: { model: MODEL, version: '1.0.0', agents: ['gw3'] } });
    expect(activate.status, activate.text).toBe(201);
    activateId = activate.json.id;
    await sendScores(hub, 'gw1', tokens.get('gw1')!, gw1Scores);
    await sendScores(hub, 'gw3', tokens.get('gw3')!, gw3Scores);
  }, 120_000);

  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
  });

  it('compares the candidate with the active version on the same windows, for a viewer', async () => {
    const answer = await api(hub.url, `/api/deployments/${shadowId}/comparison`, { token: viewer });
    expect(answer.status, answer.text).toBe(200);
    const eventTimeMs = (WINDOWS - 1) * STEP_MS;
    const perDay = (alarms: number) => Number((alarms / (eventTimeMs / DAY_MS)).toFixed(2));
    expect(answer.json).toEqual({
      deployment: shadowId,
      model: MODEL,
      candidate: { version: '1.1.0', windows: WINDOWS, alarms: 12, warns: 6, alarmsPerDay: perDay(12) },
      active: { version: '1.0.0', versions: ['1.0.0'], windows: WINDOWS, alarms: 120, warns: 60, alarmsPerDay: perDay(120) },
      windows: WINDOWS,
      firstEnd: T0,
      lastEnd: T0 + eventTimeMs,
      eventTimeMs,
      gateways: [
        { agent: 'gw1', windows: WINDOWS, candidateAlarms: 12, activeAlarms: 120, recordsRead: gw1Scores.length, capped: false },
        { agent: 'gw2', windows: 0, candidateAlarms: 0, activeAlarms: 0, recordsRead: 0, capped: false },
      ],
      recordCap: 200_000,
      capped: false,
    });
    // 6,000 windows 10 s apart: 16.7 hours, so 12 alarms are 17.28 a day and 120 are 172.83.
    expect(answer.json.candidate.alarmsPerDay).toBe(17.28);
    expect(answer.json.active.alarmsPerDay).toBe(172.83);
  });

  it('answers 404 VIGIL_API_NOT_FOUND for an unknown deployment, 409 VIGIL_API_CONFLICT without a shadow period, 401 without a token', async () => {
    const unknown = await api(hub.url, '/api/deployments/no-such-deployment/comparison', { token: viewer });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toMatchObject({ code: 'VIGIL_API_NOT_FOUND', message: 'there is no deployment no-such-deployment' });
    const activate = await api(hub.url, `/api/deployments/${activateId}/comparison`, { token: viewer });
    expect(activate.status).toBe(409);
    expect(activate.json.error.code).toBe('VIGIL_API_CONFLICT');
    expect(activate.json.error.message).toMatch(/without a shadow period/);
    expect((await api(hub.url, `/api/deployments/${shadowId}/comparison`)).status).toBe(401);
  });
});
