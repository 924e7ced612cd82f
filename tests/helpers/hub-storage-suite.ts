import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  ApiTokenRecord,
  DeploymentRecord,
  DeploymentTarget,
  HubStorage,
  ModelVersionRecord,
  Resolution,
  SessionRecord,
  StoredRecord,
  UserRecord,
} from '../../cloud-sync/storage/hub-storage.js';
import { FLEET_MESSAGE_MAX_BYTES } from '../../cloud-sync/storage/hub-storage.js';
import type { Episode } from '../../shared/episode.js';
import type { SyncRecord } from '../../shared/sync-protocol.js';
import type { WindowResult } from '../../shared/window-result.js';

const T0 = 1_700_000_000_000;

function scoreBody(seq: number, model = 'pump-pca', version = '1.0.0'): WindowResult {
  return {
    model,
    version,
    shadow: false,
    start: T0 + seq * 10_000,
    end: T0 + seq * 10_000 + 10_000,
    status: 'scored',
    score: seq / 10,
    level: 'normal',
    contributions: { flow: 0.25, pressure: 0.75 },
    quality: { filledShare: 0, badShare: 0 },
  };
}

/** Score records with seqs from..to (inclusive). */
function scores(from: number, to: number, model?: string): SyncRecord[] {
  const out: SyncRecord[] = [];
  for (let seq = from; seq <= to; seq++) out.push({ seq, at: T0 + seq, body: scoreBody(seq, model) });
  return out;
}

function episode(fields: Partial<Episode> = {}): Episode {
  const agent = fields.agent ?? 'a1';
  const model = fields.model ?? 'pump-pca';
  const start = fields.start ?? T0;
  return {
    id: `${agent}:${model}:${start}`,
    revision: 1,
    agent,
    model,
    version: '1.0.0',
    start,
    end: null,
    state: 'open',
    peakScore: 5,
    meanScore: 4,
    windows: 3,
    topTags: [{ tag: 'flow', share: 0.7 }],
    thresholds: { warn: 2, alarm: 4 },
    snapshot: [{ tag: 'flow', ts: [start - 1000, start], values: [1.5, null], quality: ['good', 'bad'] }],
    ...fields,
  };
}

function resolution(label: Resolution['label'], at = T0 + 9_000): Resolution {
  return { label, cause: label === 'real' ? 'bearing wear' : null, note: 'checked on site', by: 'op@plant', at };
}

function modelVersion(name: string, version: string, uploadedAt: number): ModelVersionRecord {
  return {
    name,
    version,
    description: `${name} ${version}`,
    sha256: 'ab'.repeat(32),
    size: 5,
    signature: 'c2lnbmF0dXJl',
    manifest: { name, version, tags: ['flow'] },
    uploadedAt,
    uploadedBy: 'admin',
  };
}

function deployment(id: string, fields: Partial<DeploymentRecord> = {}): DeploymentRecord {
  return {
    id,
    model: 'pump-pca',
    version: '1.1.0',
    mode: 'shadow',
    shadowMs: 60_000,
    selector: { agents: [], labels: { line: '1' } },
    canary: 1,
    rollbackOf: null,
    state: 'rolling_out',
    reason: null,
    createdAt: T0,
    createdBy: 'admin',
    updatedAt: T0,
    ...fields,
  };
}

function target(deploymentId: string, agent: string, fields: Partial<DeploymentTarget> = {}): DeploymentTarget {
  return {
    deployment: deploymentId,
    agent,
    wave: 0,
    status: 'pending',
    reason: null,
    previousVersion: '1.0.0',
    shadowUntil: null,
    updatedAt: T0,
    ...fields,
  };
}

function apiToken(id: string, createdAt: number): ApiTokenRecord {
  return { id, name: `token ${id}`, role: 'operator', tokenHash: 'f0'.repeat(32), tokenSalt: '0a'.repeat(16), createdAt, revokedAt: null };
}

function user(name: string, fields: Partial<UserRecord> = {}): UserRecord {
  return { name, role: 'operator', passwordHash: `scrypt$16384$8$1$c2FsdA$${name}`, createdAt: T0, updatedAt: T0, disabled: false, ...fields };
}

function session(idHash: string, userName: string, lastSeenAt = T0): SessionRecord {
  return { idHash, user: userName, csrfToken: `csrf-${idHash}`, createdAt: T0, lastSeenAt };
}

async function addAgent(storage: HubStorage, id: string, labels: Record<string, string> = {}): Promise<void> {
  await storage.createAgent({ id, labels, tokenHash: `hash-${id}`, tokenSalt: `salt-${id}`, createdAt: T0 });
}

/**
 * The behaviour every HubStorage backend must show. `open` opens the backend
 * on the same data every time it is called (the close + reopen tests rely on
 * it); `cleanup` runs after each test, once every opened storage is closed, and
 * must leave the next `open` empty.
 */
export function hubStorageSuite(name: string, open: () => Promise<HubStorage>, cleanup?: () => Promise<void>): void {
  describe(`hub storage: ${name}`, () => {
    let storage: HubStorage;
    const opened: HubStorage[] = [];

    const openStorage = async (): Promise<HubStorage> => {
      const s = await open();
      opened.push(s);
      return s;
    };
    const reopen = async (): Promise<HubStorage> => {
      opened.splice(opened.indexOf(storage), 1);
      await storage.close();
      storage = await openStorage();
      return storage;
    };

    beforeEach(async () => {
      storage = await openStorage();
    });

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      await cleanup?.();
    });

    describe('agents', () => {
      it('creates an agent with empty presence and refuses a second one with the same id', async () => {
        await storage.createAgent({ id: 'a1', labels: { line: '1' }, tokenHash: 'h1', tokenSalt: 's1', createdAt: T0 });
        await expect(storage.createAgent({ id: 'a1', labels: {}, tokenHash: 'h2', tokenSalt: 's2', createdAt: T0 + 1 })).rejects.toMatchObject({
          code: 'VIGIL_API_CONFLICT',
        });
        expect(await storage.getAgent('a1')).toEqual({
          id: 'a1',
          labels: { line: '1' },
          tokenHash: 'h1',
          tokenSalt: 's1',
          createdAt: T0,
          revokedAt: null,
          lastSeenAt: null,
          connectedTo: null,
          software: null,
          epoch: null,
          models: [],
          health: null,
          skewMs: null,
        });
        expect(await storage.getAgent('nobody')).toBeUndefined();
      });

      it('lists agents by id', async () => {
        for (const id of ['pump-2', 'boiler', 'pump-10']) await addAgent(storage, id);
        expect((await storage.listAgents()).map((a) => a.id)).toEqual(['boiler', 'pump-10', 'pump-2']);
      });

      it('patches presence field by field: undefined leaves a field alone, null clears it', async () => {
        await addAgent(storage, 'a1');
        const models = [{ name: 'pump-pca', active: '1.0.0', shadow: null, previous: null, state: 'scoring' as const }];
        await storage.updateAgentPresence('a1', { lastSeenAt: T0 + 5, connectedTo: 'hub-1', software: '0.1.0', epoch: 'e1', models, skewMs: -120 });
        await storage.updateAgentPresence('a1', { connectedTo: null, software: undefined, lastSeenAt: T0 + 9 });
        const agent = await storage.getAgent('a1');
        expect(agent).toMatchObject({ lastSeenAt: T0 + 9, connectedTo: null, software: '0.1.0', epoch: 'e1', models, skewMs: -120, tokenHash: 'hash-a1' });
        await expect(storage.updateAgentPresence('nobody', { lastSeenAt: 1 })).rejects.toMatchObject({ code: 'VIGIL_API_NOT_FOUND' });
      });

      it('revokes a token and replaces it (which clears the revocation)', async () => {
        await addAgent(storage, 'a1');
        expect(await storage.revokeAgent('a1', T0 + 100)).toBe(true);
        expect((await storage.getAgent('a1'))?.revokedAt).toBe(T0 + 100);
        expect(await storage.replaceAgentToken('a1', 'new-hash', 'new-salt')).toBe(true);
        expect(await storage.getAgent('a1')).toMatchObject({ tokenHash: 'new-hash', tokenSalt: 'new-salt', revokedAt: null });
        expect(await storage.revokeAgent('nobody', T0)).toBe(false);
        expect(await storage.replaceAgentToken('nobody', 'h', 's')).toBe(false);
      });
    });

    describe('ingest', () => {
      it('stores a batch once: the same batch again is all duplicates', async () => {
        expect(await storage.storedUpTo('a1', 'e1', 'scores')).toBe(0);
        expect(await storage.ingest('a1', 'e1', 'scores', scores(1, 3), T0)).toEqual({ stored: 3, duplicates: 0 });
        expect(await storage.ingest('a1', 'e1', 'scores', scores(1, 3), T0 + 1)).toEqual({ stored: 0, duplicates: 3 });
        expect(await storage.storedUpTo('a1', 'e1', 'scores')).toBe(3);
        expect(await storage.countRecords('scores')).toBe(3);
        expect((await storage.listRecords('scores', {})).map((r) => r.seq)).toEqual([3, 2, 1]);
      });

      it('stores only the new part of an overlapping batch', async () => {
        await storage.ingest('a1', 'e1', 'scores', scores(1, 4), T0);
        expect(await storage.ingest('a1', 'e1', 'scores', scores(3, 7), T0 + 1)).toEqual({ stored: 3, duplicates: 2 });
        expect(await storage.storedUpTo('a1', 'e1', 'scores')).toBe(7);
        expect(await storage.countRecords('scores', 'a1')).toBe(7);
        const listed = await storage.listRecords('scores', { agent: 'a1' });
        expect(listed.map((r) => r.seq)).toEqual([7, 6, 5, 4, 3, 2, 1]);
        // The overlapping records kept their first receive time.
        expect(listed.filter((r) => r.seq <= 4).every((r) => r.receivedAt === T0)).toBe(true);
      });

      it('counts a seq repeated inside one batch once', async () => {
        const batch = [...scores(1, 2), ...scores(2, 3)];
        expect(await storage.ingest('a1', 'e1', 'scores', batch, T0)).toEqual({ stored: 3, duplicates: 1 });
        expect(await storage.countRecords('scores')).toBe(3);
      });

      it('still takes a record below the stored cursor that it does not have (a gap)', async () => {
        await storage.ingest('a1', 'e1', 'events', scores(1, 2), T0);
        await storage.ingest('a1', 'e1', 'events', scores(6, 8), T0 + 1);
        expect(await storage.storedUpTo('a1', 'e1', 'events')).toBe(8);
        expect(await storage.ingest('a1', 'e1', 'events', scores(4, 7), T0 + 2)).toEqual({ stored: 2, duplicates: 2 });
        expect(await storage.storedUpTo('a1', 'e1', 'events')).toBe(8);
        expect(await storage.countRecords('events')).toBe(7);
        expect((await storage.listRecords('events', {})).map((r) => r.seq)).toEqual([5, 4, 8, 7, 6, 2, 1]);
      });

      it('keeps epochs, agents and streams apart', async () => {
        await storage.ingest('a1', 'e1', 'scores', scores(1, 5), T0);
        expect(await storage.ingest('a1', 'e2', 'scores', scores(1, 2), T0 + 1)).toEqual({ stored: 2, duplicates: 0 });
        expect(await storage.ingest('a2', 'e1', 'scores', scores(1, 3), T0 + 2)).toEqual({ stored: 3, duplicates: 0 });
        expect(await storage.ingest('a1', 'e1', 'events', scores(1, 1), T0 + 3)).toEqual({ stored: 1, duplicates: 0 });
        expect(await storage.storedUpTo('a1', 'e1', 'scores')).toBe(5);
        expect(await storage.storedUpTo('a1', 'e2', 'scores')).toBe(2);
        expect(await storage.storedUpTo('a2', 'e1', 'scores')).toBe(3);
        expect(await storage.storedUpTo('a2', 'e1', 'events')).toBe(0);
        expect(await storage.countRecords('scores')).toBe(10);
        expect(await storage.countRecords('scores', 'a1')).toBe(7);
        expect(await storage.countRecords('scores', 'a2')).toBe(3);
        expect(await storage.countRecords('events')).toBe(1);
        expect(await storage.countRecords('episodes')).toBe(0);
      });

      it('stores each record once when the same batches are ingested concurrently', async () => {
        const results = await Promise.all([
          storage.ingest('a1', 'e1', 'scores', scores(1, 50), T0),
          storage.ingest('a1', 'e1', 'scores', scores(1, 50), T0 + 1),
          storage.ingest('a1', 'e1', 'scores', scores(26, 75), T0 + 2),
          storage.ingest('a1', 'e1', 'scores', scores(1, 75), T0 + 3),
        ]);
        expect(results.reduce((sum, r) => sum + r.stored, 0)).toBe(75);
        expect(results.reduce((sum, r) => sum + r.duplicates, 0)).toBe(225 - 75);
        expect(await storage.countRecords('scores')).toBe(75);
        const seqs = (await storage.listRecords('scores', { limit: 1000 })).map((r) => r.seq).sort((a, b) => a - b);
        expect(seqs).toEqual(Array.from({ length: 75 }, (_, i) => i + 1));
      });

      it('lands a batch whole or not at all', async () => {
        await storage.ingest('a1', 'e1', 'scores', scores(1, 2), T0);
        // A body no backend can encode, in the middle of the batch.
        const broken = [...scores(3, 4), { seq: 5, at: T0, body: { value: 2n ** 80n } }, ...scores(6, 7)];
        await expect(storage.ingest('a1', 'e1', 'scores', broken, T0 + 1)).rejects.toMatchObject({ code: 'VIGIL_HUB_STORAGE_FAILED' });
        expect(await storage.storedUpTo('a1', 'e1', 'scores')).toBe(2);
        expect(await storage.countRecords('scores')).toBe(2);
        expect((await storage.listRecords('scores', {})).map((r) => r.seq)).toEqual([2, 1]);

        const episodes = [{ seq: 1, at: T0, body: episode() }, { seq: 2, at: T0, body: { ...episode({ start: T0 + 1 }), peakScore: 2n ** 80n } }];
        await expect(storage.ingest('a1', 'e1', 'episodes', episodes, T0 + 2)).rejects.toMatchObject({ code: 'VIGIL_HUB_STORAGE_FAILED' });
        expect(await storage.listEpisodes({})).toEqual([]);
        expect(await storage.storedUpTo('a1', 'e1', 'episodes')).toBe(0);
        // And the storage still works afterwards.
        expect(await storage.ingest('a1', 'e1', 'scores', scores(3, 4), T0 + 3)).toEqual({ stored: 2, duplicates: 0 });
      });
    });

    describe('records', () => {
      beforeEach(async () => {
        await storage.ingest('a1', 'e1', 'scores', scores(1, 3, 'pump-pca'), T0 + 1000);
        await storage.ingest('a2', 'e9', 'scores', scores(1, 2, 'fan-ae'), T0 + 2000);
        await storage.ingest('a1', 'e1', 'scores', scores(4, 5, 'fan-ae'), T0 + 3000);
      });

      it('lists newest first with every field of the record', async () => {
        const listed = await storage.listRecords('scores', {});
        expect(listed.map((r) => `${r.agent}/${r.seq}`)).toEqual(['a1/5', 'a1/4', 'a2/2', 'a2/1', 'a1/3', 'a1/2', 'a1/1']);
        expect(listed[0]).toEqual({ agent: 'a1', epoch: 'e1', stream: 'scores', seq: 5, at: T0 + 5, receivedAt: T0 + 3000, body: scoreBody(5, 'fan-ae') });
        expect(await storage.listRecords('events', {})).toEqual([]);
      });

      it('filters by agent, model, receive time and limit', async () => {
        const ids = (rs: Awaited<ReturnType<HubStorage['listRecords']>>) => rs.map((r) => `${r.agent}/${r.seq}`);
        expect(ids(await storage.listRecords('scores', { agent: 'a2' }))).toEqual(['a2/2', 'a2/1']);
        expect(ids(await storage.listRecords('scores', { model: 'fan-ae' }))).toEqual(['a1/5', 'a1/4', 'a2/2', 'a2/1']);
        expect(ids(await storage.listRecords('scores', { agent: 'a1', model: 'pump-pca' }))).toEqual(['a1/3', 'a1/2', 'a1/1']);
        expect(ids(await storage.listRecords('scores', { from: T0 + 2000, to: T0 + 2000 }))).toEqual(['a2/2', 'a2/1']);
        expect(ids(await storage.listRecords('scores', { to: T0 + 1999 }))).toEqual(['a1/3', 'a1/2', 'a1/1']);
        expect(ids(await storage.listRecords('scores', { from: T0 + 2001 }))).toEqual(['a1/5', 'a1/4']);
        expect(ids(await storage.listRecords('scores', { limit: 3 }))).toEqual(['a1/5', 'a1/4', 'a2/2']);
        expect(ids(await storage.listRecords('scores', { agent: 'a1', limit: 3 }))).toEqual(['a1/5', 'a1/4', 'a1/3']);
        expect(await storage.listRecords('scores', { agent: 'nobody' })).toEqual([]);
        expect(await storage.listRecords('scores', { model: 'nothing' })).toEqual([]);
      });

      it('counts each version\'s scores into a histogram once, resends included', async () => {
        // pump-pca@1.0.0 got seqs 1–3 of a1 (scores 0.1, 0.2, 0.3); fan-ae got 0.1, 0.2 (a2) and 0.4, 0.5 (a1).
        await storage.ingest('a1', 'e1', 'scores', scores(1, 5, 'pump-pca'), T0 + 4000);
        const pump = await storage.scoreHistogram('pump-pca', '1.0.0');
        expect(pump.total).toBe(3);
        expect(pump.bins.reduce((n, b) => n + b.count, 0)).toBe(3);
        for (const score of [0.1, 0.2, 0.3]) expect(pump.bins.some((b) => b.lo <= score && score < b.hi && b.count > 0)).toBe(true);
        expect((await storage.scoreHistogram('fan-ae', '1.0.0')).total).toBe(4);
        expect(await storage.scoreHistogram('pump-pca', '9.9.9')).toMatchObject({ total: 0, alarms: 0, alarmsPerDay: null, bins: [] });
        // scoreBody's level is 'normal': no alarms, and the event-time span of the windows counted.
        expect(pump).toMatchObject({ alarms: 0, warns: 0, firstEnd: T0 + 20_000, lastEnd: T0 + 40_000 });
      });
    });

    describe('episodes', () => {
      const ingestEpisodes = async (agent: string, first: number, bodies: unknown[], receivedAt: number) => {
        const records = bodies.map((body, i) => ({ seq: first + i, at: receivedAt, body }));
        return storage.ingest(agent, 'e1', 'episodes', records, receivedAt);
      };

      it('keeps the highest revision: an older one arriving later changes nothing', async () => {
        await ingestEpisodes('a1', 1, [episode({ revision: 1, peakScore: 4.5 }), episode({ revision: 3, peakScore: 7, windows: 9 })], T0 + 100);
        await ingestEpisodes('a1', 3, [episode({ revision: 2, peakScore: 6 })], T0 + 200);
        const stored = await storage.getEpisode(`a1:pump-pca:${T0}`);
        expect(stored?.episode).toMatchObject({ revision: 3, peakScore: 7, windows: 9 });
        expect(stored?.firstReceivedAt).toBe(T0 + 100);
        expect(stored?.updatedAt).toBe(T0 + 100);
        // Every revision is still a record of the stream.
        expect(await storage.countRecords('episodes', 'a1')).toBe(3);
      });

      it('replaces the snapshot with the latest revision, full in getEpisode and empty in lists', async () => {
        const first = episode({ revision: 1 });
        const closed = episode({
          revision: 2,
          end: T0 + 60_000,
          state: 'closed',
          snapshot: [{ tag: 'pressure', ts: [T0, T0 + 1000], values: [3, 4], quality: ['good', 'uncertain'] }],
        });
        await ingestEpisodes('a1', 1, [first], T0 + 100);
        await ingestEpisodes('a1', 2, [closed], T0 + 300);
        const stored = await storage.getEpisode(closed.id);
        expect(stored).toEqual({ episode: closed, resolution: null, firstReceivedAt: T0 + 100, updatedAt: T0 + 300 });
        const [listed] = await storage.listEpisodes({});
        expect(listed).toEqual({ episode: { ...closed, snapshot: [] }, resolution: null, firstReceivedAt: T0 + 100, updatedAt: T0 + 300 });
        expect(await storage.getEpisode('nothing')).toBeUndefined();
      });

      it('keeps a resolution across later revisions', async () => {
        const e = episode({ revision: 1 });
        await ingestEpisodes('a1', 1, [e], T0 + 100);
        const resolved = await storage.resolveEpisode(e.id, resolution('real'));
        expect(resolved).toEqual({ episode: e, resolution: resolution('real'), firstReceivedAt: T0 + 100, updatedAt: T0 + 100 });
        await ingestEpisodes('a1', 2, [episode({ revision: 2, end: T0 + 5000, state: 'closed' })], T0 + 200);
        const stored = await storage.getEpisode(e.id);
        expect(stored?.episode.revision).toBe(2);
        expect(stored?.resolution).toEqual(resolution('real'));
      });

      it('resolves, re-resolves, and answers undefined for an unknown episode', async () => {
        const e = episode();
        await ingestEpisodes('a1', 1, [e], T0 + 100);
        await storage.resolveEpisode(e.id, resolution('unsure'));
        await storage.resolveEpisode(e.id, resolution('normal', T0 + 20_000));
        expect((await storage.getEpisode(e.id))?.resolution).toEqual(resolution('normal', T0 + 20_000));
        expect(await storage.resolveEpisode('nothing', resolution('real'))).toBeUndefined();
      });

      it('takes only well-formed episodes of the sending agent into the table, but stores every record', async () => {
        await ingestEpisodes('a1', 1, [{ id: 'x', revision: 'one' }, episode({ agent: 'a2' }), 'not an episode', episode({ agent: 'a1' })], T0);
        expect((await storage.listEpisodes({})).map((s) => s.episode.agent)).toEqual(['a1']);
        expect(await storage.getEpisode(`a2:pump-pca:${T0}`)).toBeUndefined();
        expect(await storage.countRecords('episodes')).toBe(4);
      });

      describe('lists', () => {
        // Unresolved alarm episodes first (newest first), then unresolved warn-only ones, then resolved ones, newest first.
        const alarmOld = episode({ start: T0 + 1000, peakScore: 4 }); // exactly the alarm threshold
        const alarmNew = episode({ start: T0 + 2000, peakScore: 9, end: T0 + 2500, state: 'closed' });
        const warnNewest = episode({ start: T0 + 3000, peakScore: 3, model: 'fan-ae', version: '2.0.0' });
        const resolvedOld = episode({ start: T0 + 500, peakScore: 9, end: T0 + 900, state: 'closed' });
        const resolvedNew = episode({ agent: 'a2', start: T0 + 4000, peakScore: 2.5, version: '1.1.0' });

        beforeEach(async () => {
          await ingestEpisodes('a1', 1, [alarmOld, alarmNew, warnNewest, resolvedOld], T0 + 10_000);
          await ingestEpisodes('a2', 1, [resolvedNew], T0 + 10_000);
          await storage.resolveEpisode(resolvedOld.id, resolution('real'));
          await storage.resolveEpisode(resolvedNew.id, resolution('normal'));
        });

        const ids = async (filter: Parameters<HubStorage['listEpisodes']>[0]) => (await storage.listEpisodes(filter)).map((s) => s.episode.id);

        it('orders unresolved by alarm level then newest, then resolved newest first', async () => {
          expect(await ids({})).toEqual([alarmNew.id, alarmOld.id, warnNewest.id, resolvedNew.id, resolvedOld.id]);
          expect(await ids({ status: 'all' })).toEqual([alarmNew.id, alarmOld.id, warnNewest.id, resolvedNew.id, resolvedOld.id]);
          expect(await ids({ status: 'unresolved' })).toEqual([alarmNew.id, alarmOld.id, warnNewest.id]);
          expect(await ids({ status: 'resolved' })).toEqual([resolvedNew.id, resolvedOld.id]);
        });

        it('filters by agent, model, version and event-time overlap', async () => {
          expect(await ids({ agent: 'a2' })).toEqual([resolvedNew.id]);
          expect(await ids({ model: 'fan-ae' })).toEqual([warnNewest.id]);
          expect(await ids({ model: 'pump-pca', version: '1.0.0' })).toEqual([alarmNew.id, alarmOld.id, resolvedOld.id]);
          // [T0+950, T0+1000]: alarmOld is open (overlaps everything after its start); resolvedOld ended at T0+900.
          expect(await ids({ from: T0 + 950, to: T0 + 1000 })).toEqual([alarmOld.id]);
          // After T0+2600: alarmNew ended at T0+2500, the open ones still run.
          expect(await ids({ from: T0 + 2600 })).toEqual([alarmOld.id, warnNewest.id, resolvedNew.id]);
          expect(await ids({ to: T0 + 999 })).toEqual([resolvedOld.id]);
          expect(await ids({ agent: 'a1', status: 'resolved' })).toEqual([resolvedOld.id]);
        });

        it('pages with limit and offset', async () => {
          expect(await ids({ limit: 2 })).toEqual([alarmNew.id, alarmOld.id]);
          expect(await ids({ limit: 2, offset: 2 })).toEqual([warnNewest.id, resolvedNew.id]);
          expect(await ids({ offset: 4 })).toEqual([resolvedOld.id]);
          expect(await ids({ agent: 'a1', offset: 1, limit: 1 })).toEqual([alarmOld.id]);
        });

        it('searches with q: every word, any case, in gateway, model, version, top tags or the answer', async () => {
          // resolvedOld: real, cause "bearing wear", note "checked on site", by op@plant; resolvedNew: normal, same note and author.
          expect(await ids({ q: 'BEARING' })).toEqual([resolvedOld.id]);
          expect(await ids({ q: 'Wear  bearing' })).toEqual([resolvedOld.id]);
          expect(await ids({ q: 'checked', status: 'resolved' })).toEqual([resolvedNew.id, resolvedOld.id]);
          expect(await ids({ q: 'OP@PLANT normal' })).toEqual([resolvedNew.id]);
          expect(await ids({ q: 'fan-ae' })).toEqual([warnNewest.id]);
          expect(await ids({ q: 'a2' })).toEqual([resolvedNew.id]);
          expect(await ids({ q: '2.0.0' })).toEqual([warnNewest.id]);
          expect(await ids({ q: 'FLOW', status: 'unresolved' })).toEqual([alarmNew.id, alarmOld.id, warnNewest.id]);
          // Every word must match; a word never spans two fields; white space alone searches nothing.
          expect(await ids({ q: 'bearing pressure' })).toEqual([]);
          expect(await ids({ q: 'wearchecked' })).toEqual([]);
          expect(await ids({ q: '  ' })).toEqual(await ids({}));
          // Words the JSON or the answer carry outside those fields (keys, ids, numbers) do not match.
          expect(await ids({ q: 'peakScore' })).toEqual([]);
          expect(await ids({ q: 'share' })).toEqual([]);
          expect(await ids({ q: String(resolvedOld.start) })).toEqual([]);
          // Combined with the other filters and paged after the search.
          expect(await ids({ q: 'checked', agent: 'a1' })).toEqual([resolvedOld.id]);
          expect(await ids({ q: 'flow', limit: 2, offset: 1 })).toEqual([alarmOld.id, warnNewest.id]);
          expect(await ids({ q: 'flow', offset: 4 })).toEqual([resolvedOld.id]);
        });

        it('searches letters beyond ASCII, quotes and backslashes case-insensitively, whatever the database locale', async () => {
          const odd = episode({ agent: 'a1', start: T0 + 5000, topTags: [{ tag: 'Kühlwasser.Temp', share: 1 }] });
          await ingestEpisodes('a1', 10, [odd], T0 + 10_000);
          await storage.resolveEpisode(odd.id, { label: 'real', cause: 'ÜBERHITZUNG "Lager"', note: 'Ventil C:\\Zulauf', by: 'Ölwart', at: T0 + 9_000 });
          expect(await ids({ q: 'kühlwasser.temp' })).toEqual([odd.id]);
          expect(await ids({ q: 'überhitzung' })).toEqual([odd.id]);
          expect(await ids({ q: 'ölwart "lager"' })).toEqual([odd.id]);
          expect(await ids({ q: 'c:\\zulauf' })).toEqual([odd.id]);
          expect(await ids({ q: 'zulauf" ' })).toEqual([]);
        });

        it('finds the few matches among many episodes, in list order, paged', async () => {
          // "tag" is in every stored episode's JSON (the topTags key) but a field only of every 400th.
          const many = Array.from({ length: 1201 }, (_, i) => episode({ agent: 'a3', start: T0 + 10_000 + i, topTags: [{ tag: i % 400 === 0 ? 'spare-tag' : 'flow', share: 1 }] }));
          await ingestEpisodes('a3', 1, many, T0 + 20_000);
          const at = (...indexes: number[]) => indexes.map((i) => many[i]!.id);
          expect(await ids({ q: 'tag' })).toEqual(at(1200, 800, 400, 0));
          expect(await ids({ q: 'TAG', offset: 1, limit: 2 })).toEqual(at(800, 400));
          expect(await ids({ q: 'spare-tag', offset: 3 })).toEqual(at(0));
        });

        it('moves an episode between groups when it is resolved', async () => {
          await storage.resolveEpisode(alarmNew.id, resolution('unsure'));
          expect(await ids({ status: 'unresolved' })).toEqual([alarmOld.id, warnNewest.id]);
          expect(await ids({ status: 'resolved' })).toEqual([resolvedNew.id, alarmNew.id, resolvedOld.id]);
        });

        it('counts episodes per model version, with registry versions that have none', async () => {
          await storage.putModelVersion(modelVersion('pump-pca', '1.10.0', T0), new Uint8Array([1]));
          await storage.putModelVersion(modelVersion('pump-pca', '1.0.0', T0), new Uint8Array([1]));
          await storage.resolveEpisode(alarmOld.id, resolution('unsure'));
          expect(await storage.versionPerformance()).toEqual([
            { model: 'fan-ae', version: '2.0.0', episodes: 1, real: 0, normal: 0, unsure: 0, unresolved: 1, firstStart: T0 + 3000, lastStart: T0 + 3000 },
            { model: 'pump-pca', version: '1.0.0', episodes: 3, real: 1, normal: 0, unsure: 1, unresolved: 1, firstStart: T0 + 500, lastStart: T0 + 2000 },
            { model: 'pump-pca', version: '1.1.0', episodes: 1, real: 0, normal: 1, unsure: 0, unresolved: 0, firstStart: T0 + 4000, lastStart: T0 + 4000 },
            { model: 'pump-pca', version: '1.10.0', episodes: 0, real: 0, normal: 0, unsure: 0, unresolved: 0, firstStart: null, lastStart: null },
          ]);
          expect((await storage.versionPerformance('fan-ae')).map((p) => p.version)).toEqual(['2.0.0']);
          expect(await storage.versionPerformance('nothing')).toEqual([]);
        });
      });
    });

    describe('model registry', () => {
      it('stores a version once: a second put is refused and changes nothing', async () => {
        const bytes = new Uint8Array([0, 1, 2, 250, 255]);
        const record = modelVersion('pump-pca', '1.0.0', T0);
        expect(await storage.putModelVersion(record, bytes)).toBe('created');
        expect(await storage.putModelVersion({ ...record, description: 'other', uploadedAt: T0 + 1 }, new Uint8Array([9, 9]))).toBe('exists');
        expect(await storage.getModelVersion('pump-pca', '1.0.0')).toEqual(record);
        expect(Array.from((await storage.getPackage('pump-pca', '1.0.0')) ?? [])).toEqual([0, 1, 2, 250, 255]);
        expect(await storage.getModelVersion('pump-pca', '9.9.9')).toBeUndefined();
        expect(await storage.getPackage('pump-pca', '9.9.9')).toBeUndefined();
      });

      it('stores exactly the bytes of a view into a larger buffer', async () => {
        const backing = new Uint8Array(64 * 1024).map((_, i) => (i * 7) % 256);
        const view = backing.subarray(1000, 1000 + 40_000);
        await storage.putModelVersion(modelVersion('big', '1.0.0', T0), view);
        const stored = await storage.getPackage('big', '1.0.0');
        expect(stored).toBeInstanceOf(Uint8Array);
        expect(stored?.byteLength).toBe(40_000);
        expect(Buffer.from(stored!).equals(Buffer.from(view))).toBe(true);
      });

      it('lists versions oldest upload first, of one model when asked', async () => {
        await storage.putModelVersion(modelVersion('pump-pca', '1.1.0', T0 + 20), new Uint8Array([1]));
        await storage.putModelVersion(modelVersion('fan-ae', '3.0.0', T0 + 10), new Uint8Array([1]));
        await storage.putModelVersion(modelVersion('pump-pca', '1.0.0', T0 + 5), new Uint8Array([1]));
        expect((await storage.listModelVersions()).map((m) => `${m.name}@${m.version}`)).toEqual(['pump-pca@1.0.0', 'fan-ae@3.0.0', 'pump-pca@1.1.0']);
        expect((await storage.listModelVersions('pump-pca')).map((m) => m.version)).toEqual(['1.0.0', '1.1.0']);
        expect(await storage.listModelVersions('pump')).toEqual([]);
      });
    });

    describe('deployments', () => {
      it('creates a deployment with its targets and refuses a duplicate id', async () => {
        const d = deployment('d1');
        await storage.createDeployment(d, [target('d1', 'a2', { wave: 1 }), target('d1', 'a1')]);
        await expect(storage.createDeployment(deployment('d1', { model: 'other' }), [])).rejects.toMatchObject({ code: 'VIGIL_API_CONFLICT' });
        expect(await storage.getDeployment('d1')).toEqual(d);
        expect(await storage.getDeployment('nothing')).toBeUndefined();
        expect(await storage.listTargets('d1')).toEqual([target('d1', 'a1'), target('d1', 'a2', { wave: 1 })]);
        expect(await storage.listTargets('nothing')).toEqual([]);
      });

      it('lists newest first, filtered by model and agent, limited', async () => {
        await storage.createDeployment(deployment('d1', { createdAt: T0 + 1 }), [target('d1', 'a1')]);
        await storage.createDeployment(deployment('d2', { createdAt: T0 + 3, model: 'fan-ae' }), [target('d2', 'a2')]);
        await storage.createDeployment(deployment('d3', { createdAt: T0 + 2 }), [target('d3', 'a1'), target('d3', 'a2')]);
        const ids = async (filter?: Parameters<HubStorage['listDeployments']>[0]) => (await storage.listDeployments(filter)).map((d) => d.id);
        expect(await ids()).toEqual(['d2', 'd3', 'd1']);
        expect(await ids({ model: 'pump-pca' })).toEqual(['d3', 'd1']);
        expect(await ids({ agent: 'a2' })).toEqual(['d2', 'd3']);
        expect(await ids({ agent: 'a1', model: 'fan-ae' })).toEqual([]);
        expect(await ids({ limit: 2 })).toEqual(['d2', 'd3']);
        expect((await storage.targetsOfAgent('a1')).map((t) => t.deployment)).toEqual(['d3', 'd1']);
        expect(await storage.targetsOfAgent('nobody')).toEqual([]);
      });

      it('updates a deployment and a target field by field', async () => {
        await storage.createDeployment(deployment('d1'), [target('d1', 'a1'), target('d1', 'a2')]);
        await storage.updateDeployment('d1', { state: 'failed', reason: 'a1 failed', updatedAt: T0 + 50 });
        await storage.updateDeployment('d1', { reason: undefined, updatedAt: T0 + 60 });
        expect(await storage.getDeployment('d1')).toEqual(deployment('d1', { state: 'failed', reason: 'a1 failed', updatedAt: T0 + 60 }));
        await storage.updateTarget('d1', 'a1', { status: 'shadow', shadowUntil: T0 + 60_000, updatedAt: T0 + 70 });
        await storage.updateTarget('d1', 'a1', { status: 'refused', reason: 'bad signature' });
        expect(await storage.listTargets('d1')).toEqual([
          target('d1', 'a1', { status: 'refused', reason: 'bad signature', shadowUntil: T0 + 60_000, updatedAt: T0 + 70 }),
          target('d1', 'a2'),
        ]);
        expect((await storage.targetsOfAgent('a1'))[0]?.status).toBe('refused');
        await expect(storage.updateDeployment('nothing', { state: 'completed' })).rejects.toMatchObject({ code: 'VIGIL_API_NOT_FOUND' });
        await expect(storage.updateTarget('d1', 'a9', { status: 'active' })).rejects.toMatchObject({ code: 'VIGIL_API_NOT_FOUND' });
      });
    });

    describe('API tokens', () => {
      it('creates, lists oldest first, revokes, and refuses a duplicate id', async () => {
        await storage.createApiToken(apiToken('t2', T0 + 2));
        await storage.createApiToken(apiToken('t1', T0 + 1));
        await expect(storage.createApiToken(apiToken('t1', T0 + 3))).rejects.toMatchObject({ code: 'VIGIL_API_CONFLICT' });
        expect(await storage.getApiToken('t1')).toEqual(apiToken('t1', T0 + 1));
        expect((await storage.listApiTokens()).map((t) => t.id)).toEqual(['t1', 't2']);
        expect(await storage.revokeApiToken('t2', T0 + 99)).toBe(true);
        expect((await storage.getApiToken('t2'))?.revokedAt).toBe(T0 + 99);
        expect(await storage.revokeApiToken('nothing', T0)).toBe(false);
        expect(await storage.getApiToken('nothing')).toBeUndefined();
      });
    });

    describe('users and sessions', () => {
      it('creates users, lists them by name and refuses a second one with the same name', async () => {
        await storage.createUser(user('zoe', { role: 'admin' }));
        await storage.createUser(user('anna'));
        await expect(storage.createUser(user('zoe'))).rejects.toMatchObject({ code: 'VIGIL_API_CONFLICT' });
        expect(await storage.getUser('zoe')).toEqual(user('zoe', { role: 'admin' }));
        expect(await storage.getUser('nobody')).toBeUndefined();
        expect((await storage.listUsers()).map((u) => u.name)).toEqual(['anna', 'zoe']);
      });

      it('updates a user field by field and returns the result', async () => {
        await storage.createUser(user('anna'));
        expect(await storage.updateUser('anna', { role: 'viewer', updatedAt: T0 + 1 })).toEqual(user('anna', { role: 'viewer', updatedAt: T0 + 1 }));
        await storage.updateUser('anna', { disabled: true, passwordHash: 'scrypt$new', role: undefined });
        expect(await storage.getUser('anna')).toEqual(user('anna', { role: 'viewer', updatedAt: T0 + 1, disabled: true, passwordHash: 'scrypt$new' }));
        expect(await storage.updateUser('nobody', { disabled: true })).toBeUndefined();
      });

      it('keeps sessions by id hash, moves lastSeenAt only forward, and deletes them one by one', async () => {
        await storage.createUser(user('anna'));
        await storage.createSession(session('h1', 'anna'));
        await expect(storage.createSession(session('h1', 'anna'))).rejects.toMatchObject({ code: 'VIGIL_API_CONFLICT' });
        await storage.touchSession('h1', T0 + 500);
        await storage.touchSession('h1', T0 + 100);
        await storage.touchSession('gone', T0 + 100);
        expect(await storage.getSession('h1')).toEqual(session('h1', 'anna', T0 + 500));
        expect(await storage.getSession('gone')).toBeUndefined();
        expect(await storage.deleteSession('h1')).toBe(true);
        expect(await storage.deleteSession('h1')).toBe(false);
        expect(await storage.getSession('h1')).toBeUndefined();
      });

      it("ends one user's sessions, idle sessions, and a deleted user's sessions", async () => {
        for (const name of ['anna', 'ben']) await storage.createUser(user(name));
        await storage.createSession(session('a1', 'anna', T0 + 10));
        await storage.createSession(session('a2', 'anna', T0 + 20));
        await storage.createSession(session('b1', 'ben', T0 + 5));
        await storage.createSession(session('b2', 'ben', T0 + 30));
        expect(await storage.deleteUserSessions('anna')).toBe(2);
        expect(await storage.getSession('a2')).toBeUndefined();
        expect(await storage.deleteIdleSessions(T0 + 30)).toBe(1);
        expect(await storage.getSession('b1')).toBeUndefined();
        expect(await storage.getSession('b2')).toEqual(session('b2', 'ben', T0 + 30));
        expect(await storage.deleteUser('ben')).toBe(true);
        expect(await storage.deleteUser('ben')).toBe(false);
        expect(await storage.getUser('ben')).toBeUndefined();
        expect(await storage.getSession('b2')).toBeUndefined();
      });

      it('keeps users and sessions across close and reopen', async () => {
        await storage.createUser(user('anna', { role: 'admin' }));
        await storage.createSession(session('h1', 'anna', T0 + 7));
        const again = await reopen();
        expect(await again.getUser('anna')).toEqual(user('anna', { role: 'admin' }));
        expect(await again.getSession('h1')).toEqual(session('h1', 'anna', T0 + 7));
      });
    });

    describe('meta', () => {
      it('keeps small settings by key', async () => {
        expect(await storage.getMeta('digest:lastRun')).toBeUndefined();
        await storage.setMeta('digest:lastRun', { at: T0, sent: 3 });
        await storage.setMeta('digest:lastRun', { at: T0 + 1, sent: 4 });
        await storage.setMeta('other', 'x');
        expect(await storage.getMeta<{ at: number; sent: number }>('digest:lastRun')).toEqual({ at: T0 + 1, sent: 4 });
        expect(await storage.getMeta<string>('other')).toBe('x');
      });
    });

    describe('claims shared by replicas', () => {
      it('initMeta keeps the first value', async () => {
        expect(await storage.initMeta('signing', { key: 'first' })).toEqual({ key: 'first' });
        expect(await storage.initMeta('signing', { key: 'second' })).toEqual({ key: 'first' });
        expect(await storage.getMeta('signing')).toEqual({ key: 'first' });
      });

      it('compareAndSetMeta changes a value only from the one expected', async () => {
        expect(await storage.compareAndSetMeta('digest:slot', { at: 1 }, { at: 2 })).toBe(false);
        expect(await storage.getMeta('digest:slot')).toBeUndefined();
        expect(await storage.compareAndSetMeta('digest:slot', undefined, { at: 1, by: 'r1' })).toBe(true);
        expect(await storage.compareAndSetMeta('digest:slot', undefined, { at: 1, by: 'r2' })).toBe(false);
        // Key order does not matter, values do.
        expect(await storage.compareAndSetMeta('digest:slot', { by: 'r1', at: 1 }, { at: 2, by: 'r1' })).toBe(true);
        expect(await storage.compareAndSetMeta('digest:slot', { at: 1, by: 'r1' }, { at: 3, by: 'r2' })).toBe(false);
        expect(await storage.getMeta('digest:slot')).toEqual({ at: 2, by: 'r1' });
      });

      it('compareAndSetMeta lets exactly one of many concurrent claims win', async () => {
        await storage.setMeta('slot', 0);
        const wins = await Promise.all(Array.from({ length: 12 }, (_, i) => storage.compareAndSetMeta('slot', 0, i + 1)));
        expect(wins.filter(Boolean)).toHaveLength(1);
        expect(await storage.getMeta('slot')).toBe(wins.indexOf(true) + 1);
      });

      it('lists meta by key', async () => {
        await storage.setMeta('b', 2);
        await storage.setMeta('a', { x: [1] });
        const listed = (await storage.listMeta()).filter((m) => m.key === 'a' || m.key === 'b');
        expect(listed).toEqual([
          { key: 'a', value: { x: [1] } },
          { key: 'b', value: 2 },
        ]);
      });

      it('withLock runs work under one name one at a time, other names in parallel', async () => {
        const log: string[] = [];
        const work = (tag: string, ms: number) => async () => {
          log.push(`${tag}+`);
          await new Promise((r) => setTimeout(r, ms));
          log.push(`${tag}-`);
          return tag;
        };
        const results = await Promise.all([storage.withLock('d1', work('a', 40)), storage.withLock('d1', work('b', 5)), storage.withLock('d2', work('c', 5))]);
        expect(results).toEqual(['a', 'b', 'c']);
        // b waited for a; c did not.
        expect(log.indexOf('b+')).toBeGreaterThan(log.indexOf('a-'));
        expect(log.indexOf('c-')).toBeLessThan(log.indexOf('a-'));
      });

      it('withLock releases the lock when work fails', async () => {
        await expect(storage.withLock('d1', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
        expect(await storage.withLock('d1', async () => 'after')).toBe('after');
      });

      it('publish reaches subscribers (the publisher included) until they unsubscribe', async () => {
        const got: unknown[] = [];
        const unsubscribe = storage.subscribe((m) => got.push(m));
        await new Promise((r) => setTimeout(r, 100)); // a PostgreSQL LISTEN needs its connection first
        await storage.publish({ type: 'deployment', id: 'd1' });
        await expect.poll(() => got, { timeout: 5000 }).toEqual([{ type: 'deployment', id: 'd1' }]);
        unsubscribe();
        await storage.publish({ type: 'deployment', id: 'd2' });
        await new Promise((r) => setTimeout(r, 200));
        expect(got).toHaveLength(1);
      });

      it('refuses to publish a message over the size limit', async () => {
        await expect(storage.publish({ big: 'x'.repeat(FLEET_MESSAGE_MAX_BYTES) })).rejects.toMatchObject({ code: 'VIGIL_HUB_STORAGE_FAILED' });
      });
    });

    describe('scanRecords', () => {
      it('gives every record of a stream exactly once, page by page', async () => {
        await addAgent(storage, 'a1');
        await addAgent(storage, 'a2');
        await storage.ingest('a1', 'e1', 'scores', scores(1, 7), T0 + 1);
        await storage.ingest('a2', 'e9', 'scores', scores(1, 3), T0 + 2);
        await storage.ingest('a1', 'e1', 'scores', scores(8, 12), T0 + 3);
        await storage.ingest('a1', 'e2', 'scores', scores(1, 2), T0 + 4);
        await storage.ingest('a1', 'e1', 'events', [{ seq: 1, at: T0, body: { kind: 'x' } }], T0 + 5);
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page: { records: StoredRecord[]; next: string | null } = await storage.scanRecords('scores', cursor, 4);
          expect(page.records.length).toBeLessThanOrEqual(4);
          for (const r of page.records) {
            seen.push(`${r.agent}/${r.epoch}/${r.seq}`);
            expect(r.stream).toBe('scores');
            expect(r.body).toEqual(scoreBody(r.seq));
          }
          cursor = page.next;
          pages++;
        } while (cursor !== null && pages < 20);
        expect(seen.slice().sort()).toEqual(
          [...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((s) => `a1/e1/${s}`), 'a1/e2/1', 'a1/e2/2', 'a2/e9/1', 'a2/e9/2', 'a2/e9/3'].sort(),
        );
        expect(new Set(seen).size).toBe(seen.length);
        const received = (await storage.scanRecords('scores', null, 100)).records.find((r) => r.agent === 'a1' && r.seq === 9);
        expect(received?.receivedAt).toBe(T0 + 3);
        expect((await storage.scanRecords('episodes', null, 10)).records).toEqual([]);
      });
    });

    it('keeps everything across close and reopen', async () => {
      await addAgent(storage, 'a1', { line: '1' });
      await storage.revokeAgent('a1', T0 + 1);
      await storage.ingest('a1', 'e1', 'scores', scores(1, 10), T0 + 2);
      const e = episode();
      await storage.ingest('a1', 'e1', 'episodes', [{ seq: 1, at: T0, body: e }], T0 + 3);
      await storage.resolveEpisode(e.id, resolution('real'));
      await storage.putModelVersion(modelVersion('pump-pca', '1.0.0', T0), new Uint8Array([7, 8, 9]));
      await storage.createDeployment(deployment('d1'), [target('d1', 'a1')]);
      await storage.updateTarget('d1', 'a1', { status: 'active' });
      await storage.createApiToken(apiToken('t1', T0));
      await storage.setMeta('k', [1, 2, 3]);

      const kind = storage.kind;
      const again = await reopen();
      expect(again.kind).toBe(kind);
      expect((await again.getAgent('a1'))?.revokedAt).toBe(T0 + 1);
      expect(await again.storedUpTo('a1', 'e1', 'scores')).toBe(10);
      expect(await again.countRecords('scores')).toBe(10);
      expect(await again.ingest('a1', 'e1', 'scores', scores(5, 12), T0 + 4)).toEqual({ stored: 2, duplicates: 6 });
      expect(await again.getEpisode(e.id)).toEqual({ episode: e, resolution: resolution('real'), firstReceivedAt: T0 + 3, updatedAt: T0 + 3 });
      expect(Array.from((await again.getPackage('pump-pca', '1.0.0')) ?? [])).toEqual([7, 8, 9]);
      expect((await again.listTargets('d1'))[0]?.status).toBe('active');
      expect(await again.getApiToken('t1')).toEqual(apiToken('t1', T0));
      expect(await again.getMeta('k')).toEqual([1, 2, 3]);
    });
  });
}
