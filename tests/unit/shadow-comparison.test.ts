import { describe, expect, it } from 'vitest';
import { compareShadowDeployment, type ComparisonOptions } from '../../cloud-sync/api/shadow-comparison.js';
import type { DeploymentRecord, DeploymentTarget, RecordFilter, StoredRecord } from '../../cloud-sync/storage/hub-storage.js';
import { VigilError } from '../../shared/errors.js';
import type { ScoreLevel } from '../../shared/model-manifest.js';

const T0 = Date.UTC(2026, 2, 9, 0, 0, 0);
const MINUTE = 60_000;
const CREATED = T0 - 10 * MINUTE;

const deployment = (overrides: Partial<DeploymentRecord> = {}): DeploymentRecord => ({
  id: 'd-1',
  model: 'pump-pca',
  version: '1.1.0',
  mode: 'shadow',
  shadowMs: 86_400_000,
  selector: { agents: ['gw1', 'gw2'], labels: {} },
  canary: null,
  rollbackOf: null,
  state: 'rolling_out',
  reason: null,
  createdAt: CREATED,
  createdBy: 'alice',
  updatedAt: CREATED,
  ...overrides,
});

const target = (agent: string): DeploymentTarget => ({ deployment: 'd-1', agent, wave: 0, status: 'shadow', reason: null, previousVersion: '1.0.0', shadowUntil: null, updatedAt: CREATED });

interface Window {
  end: number;
  version: string;
  shadow: boolean;
  level: ScoreLevel | null;
  model?: string;
}

/**
 * listRecords over an array, as the backends answer it: newest receive time
 * first, then highest seq; `from`/`to` inclusive on receive time; model in the body.
 */
class FakeStorage {
  readonly records: StoredRecord[] = [];
  readonly calls: RecordFilter[] = [];
  private seq = 0;

  constructor(private readonly agents: string[]) {}

  /** One batch: every window received at the same hub time. */
  receive(agent: string, receivedAt: number, windows: Window[], epoch = 'e1'): void {
    for (const w of windows) {
      const body = {
        model: w.model ?? 'pump-pca',
        version: w.version,
        shadow: w.shadow,
        start: w.end - 30_000,
        end: w.end,
        status: w.level === null ? 'insufficient_data' : 'scored',
        score: w.level === null ? null : { normal: 0.5, warn: 1.5, alarm: 3 }[w.level],
        level: w.level,
        contributions: null,
        quality: { filled: 0, bad: 0 },
      };
      this.records.push({ agent, epoch, stream: 'scores', seq: ++this.seq, at: w.end, receivedAt, body });
    }
  }

  async listTargets(): Promise<DeploymentTarget[]> {
    return this.agents.map(target);
  }

  async listRecords(stream: string, filter: RecordFilter): Promise<StoredRecord[]> {
    this.calls.push(filter);
    return this.records
      .filter((r) => r.stream === stream && (filter.agent === undefined || r.agent === filter.agent))
      .filter((r) => filter.model === undefined || (r.body as { model: string }).model === filter.model)
      .filter((r) => r.receivedAt >= (filter.from ?? -Infinity) && r.receivedAt <= (filter.to ?? Infinity))
      .sort((a, b) => b.receivedAt - a.receivedAt || b.seq - a.seq)
      .slice(0, filter.limit ?? 100);
  }
}

/** n windows a minute apart from T0 on one gateway, each scored by 1.0.0 (active) and 1.1.0 (shadow), in batches of `batch`. */
function pairedWindows(storage: FakeStorage, agent: string, n: number, levels: { candidate: (i: number) => ScoreLevel; active: (i: number) => ScoreLevel }, batch = 10): void {
  for (let b = 0; b < n; b += batch) {
    const windows: Window[] = [];
    for (let i = b; i < Math.min(n, b + batch); i++) {
      const end = T0 + i * MINUTE;
      windows.push({ end, version: '1.0.0', shadow: false, level: levels.active(i) }, { end, version: '1.1.0', shadow: true, level: levels.candidate(i) });
    }
    storage.receive(agent, T0 + b * MINUTE + 5_000, windows);
  }
}

const compare = (storage: FakeStorage, options?: ComparisonOptions, d = deployment()) => compareShadowDeployment(storage, d, options);

describe('shadow comparison', () => {
  it('counts both versions over exactly the windows both scored, per day of compared event time', async () => {
    const storage = new FakeStorage(['gw1']);
    // 100 paired windows over 99 minutes: the candidate alarms on 2, warns on 1; the active version alarms on 10, warns on 5.
    pairedWindows(storage, 'gw1', 100, {
      candidate: (i) => (i % 50 === 7 ? 'alarm' : i === 3 ? 'warn' : 'normal'),
      active: (i) => (i % 10 === 0 ? 'alarm' : i % 10 === 5 && i < 50 ? 'warn' : 'normal'),
    });
    // Not compared: windows only one side scored, the candidate's results after activation (not shadow),
    // a third version in shadow, insufficient data, another model.
    storage.receive('gw1', T0 + 200 * MINUTE, [
      { end: T0 + 100 * MINUTE, version: '1.0.0', shadow: false, level: 'alarm' },
      { end: T0 + 101 * MINUTE, version: '1.1.0', shadow: true, level: 'alarm' },
      { end: T0 + 102 * MINUTE, version: '1.1.0', shadow: false, level: 'alarm' },
      { end: T0 + 102 * MINUTE, version: '1.0.0', shadow: false, level: 'alarm' },
      { end: T0 + 103 * MINUTE, version: '1.2.0', shadow: true, level: 'alarm' },
      { end: T0 + 103 * MINUTE, version: '1.0.0', shadow: false, level: 'alarm' },
      { end: T0 + 104 * MINUTE, version: '1.1.0', shadow: true, level: null },
      { end: T0 + 104 * MINUTE, version: '1.0.0', shadow: false, level: 'alarm' },
      { end: T0 + 105 * MINUTE, version: '1.1.0', shadow: true, level: 'alarm', model: 'other' },
      { end: T0 + 105 * MINUTE, version: '1.0.0', shadow: false, level: 'alarm', model: 'other' },
    ]);
    const c = await compare(storage);
    const days = (99 * MINUTE) / 86_400_000;
    expect(c).toMatchObject({
      deployment: 'd-1',
      model: 'pump-pca',
      windows: 100,
      firstEnd: T0,
      lastEnd: T0 + 99 * MINUTE,
      eventTimeMs: 99 * MINUTE,
      capped: false,
      recordCap: 200_000,
      candidate: { version: '1.1.0', windows: 100, alarms: 2, warns: 1, alarmsPerDay: Number((2 / days).toFixed(2)) },
      active: { version: '1.0.0', versions: ['1.0.0'], windows: 100, alarms: 10, warns: 5, alarmsPerDay: Number((10 / days).toFixed(2)) },
    });
    expect(c.gateways).toEqual([{ agent: 'gw1', windows: 100, candidateAlarms: 2, activeAlarms: 10, recordsRead: 208, capped: false }]);
  });

  it('sums event time over gateways, names every active version, and rates at least an hour', async () => {
    const storage = new FakeStorage(['gw2', 'gw1', 'gw3']);
    pairedWindows(storage, 'gw1', 31, { candidate: () => 'normal', active: (i) => (i < 3 ? 'alarm' : 'normal') });
    // gw2 ran 0.9.0 as its active version; its windows overlap gw1's in time, yet each gateway adds its own span.
    storage.receive('gw2', T0 + 10 * MINUTE, [
      { end: T0, version: '0.9.0', shadow: false, level: 'alarm' },
      { end: T0, version: '1.1.0', shadow: true, level: 'alarm' },
      { end: T0 + 20 * MINUTE, version: '0.9.0', shadow: false, level: 'normal' },
      { end: T0 + 20 * MINUTE, version: '1.1.0', shadow: true, level: 'normal' },
    ]);
    const c = await compare(storage);
    expect(c.windows).toBe(33);
    expect(c.eventTimeMs).toBe(30 * MINUTE + 20 * MINUTE);
    expect(c.active).toMatchObject({ version: '1.0.0', versions: ['1.0.0', '0.9.0'], alarms: 4 });
    // 50 minutes of compared event time counts as an hour: 24 per day per alarm.
    expect(c.candidate).toMatchObject({ alarms: 1, alarmsPerDay: 24 });
    expect(c.active.alarmsPerDay).toBe(96);
    // Gateways in id order; gw3 never shadowed (e.g. it refused the package).
    expect(c.gateways.map((g) => [g.agent, g.windows])).toEqual([
      ['gw1', 31],
      ['gw2', 2],
      ['gw3', 0],
    ]);
  });

  it('has no rates without compared windows', async () => {
    const c = await compare(new FakeStorage(['gw1']));
    expect(c).toMatchObject({ windows: 0, firstEnd: null, lastEnd: null, eventTimeMs: 0, candidate: { alarms: 0, alarmsPerDay: null }, active: { version: null, versions: [], alarmsPerDay: null } });
  });

  it('reads from shortly before the deployment was made, and keeps the newest scoring of a window scored twice', async () => {
    const storage = new FakeStorage(['gw1']);
    // An earlier shadow of the same version, received an hour before this deployment: not this deployment's data.
    storage.receive('gw1', CREATED - 60 * MINUTE, [
      { end: T0 - 120 * MINUTE, version: '1.0.0', shadow: false, level: 'alarm' },
      { end: T0 - 120 * MINUTE, version: '1.1.0', shadow: true, level: 'alarm' },
    ]);
    // Received 30 s before the deployment's time by a replica whose clock runs behind: read.
    storage.receive('gw1', CREATED - 30_000, [
      { end: T0, version: '1.0.0', shadow: false, level: 'alarm' },
      { end: T0, version: '1.1.0', shadow: true, level: 'normal' },
    ]);
    // The same window scored again after the agent's store was replaced (a new epoch): the newest counts.
    storage.receive('gw1', T0 + MINUTE, [{ end: T0, version: '1.1.0', shadow: true, level: 'alarm' }], 'e2');
    const c = await compare(storage);
    expect(storage.calls.every((f) => f.from === CREATED - 60_000 && f.agent === 'gw1' && f.model === 'pump-pca')).toBe(true);
    expect(c).toMatchObject({ windows: 1, candidate: { alarms: 1 }, active: { alarms: 1 } });
  });

  it('reads page by page through batches that share a receive time, the same as all at once', async () => {
    const storage = new FakeStorage(['gw1']);
    // Batches of 7 windows (14 records at one receive time) against pages of 5 records.
    pairedWindows(storage, 'gw1', 100, { candidate: (i) => (i % 9 === 0 ? 'alarm' : 'normal'), active: (i) => (i % 4 === 0 ? 'alarm' : 'normal') }, 7);
    const whole = await compare(storage);
    storage.calls.length = 0;
    const paged = await compare(storage, { pageSize: 5 });
    expect(paged).toEqual(whole);
    expect(paged).toMatchObject({ windows: 100, candidate: { alarms: 12 }, active: { alarms: 25 }, gateways: [{ recordsRead: 200, capped: false }] });
    expect(storage.calls.length).toBeGreaterThan(40);
    expect(Math.max(...storage.calls.map((f) => f.limit!))).toBeLessThanOrEqual(5 + 14);
  });

  it('stops at the record cap, newest first, and says so', async () => {
    const storage = new FakeStorage(['gw1']);
    pairedWindows(storage, 'gw1', 100, { candidate: () => 'normal', active: (i) => (i < 50 ? 'alarm' : 'normal') });
    const capped = await compare(storage, { recordCap: 60, pageSize: 25 });
    // The newest 30 windows (70–99) were read: none of the active version's alarms (0–49) among them.
    expect(capped).toMatchObject({ capped: true, recordCap: 60, windows: 30, firstEnd: T0 + 70 * MINUTE, active: { alarms: 0 }, gateways: [{ recordsRead: 60, capped: true }] });
    // A cap the records just fit in is not hit.
    expect(await compare(storage, { recordCap: 200, pageSize: 30 })).toMatchObject({ capped: false, windows: 100, active: { alarms: 50 } });
  });

  it('refuses a deployment without a shadow period with VIGIL_API_CONFLICT', async () => {
    const error = await compare(new FakeStorage(['gw1']), {}, deployment({ mode: 'activate', shadowMs: null })).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(VigilError);
    expect(error).toMatchObject({ code: 'VIGIL_API_CONFLICT' });
    expect((error as Error).message).toMatch(/without a shadow period/);
  });
});
