import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FLEET_MESSAGE_MAX_BYTES, type HubStorage } from '../../cloud-sync/storage/hub-storage.js';
import { LATEST_SCHEMA_VERSION, migratePostgres } from '../../cloud-sync/storage/postgres-migrations.js';
import { openPostgresHubStorage } from '../../cloud-sync/storage/postgres-storage.js';
import type { SyncRecord } from '../../shared/sync-protocol.js';
import { hubStorageSuite } from '../helpers/hub-storage-suite.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres-test-db.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

const SUITE_SCHEMA = 'suite';

/**
 * Empties every table of the suite's schema but keeps the schema, so the next
 * open finds it migrated. DELETE, not TRUNCATE or DROP SCHEMA: on these tiny
 * tables it takes tens of milliseconds where those take hundreds.
 */
async function emptySuiteSchema(): Promise<void> {
  await db.query(
    `DO $$ DECLARE t text; BEGIN
       -- deployments last: targets reference it.
       FOR t IN SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
                WHERE schemaname = '${SUITE_SCHEMA}' AND tablename <> 'schema_migrations' ORDER BY tablename = 'deployments'
       LOOP EXECUTE 'DELETE FROM ' || t; END LOOP;
     END $$`,
  );
}

hubStorageSuite('postgres', () => openPostgresHubStorage({ url: db.url, schema: SUITE_SCHEMA, poolSize: 4 }), emptySuiteSchema);

function records(from: number, to: number): SyncRecord[] {
  const out: SyncRecord[] = [];
  for (let seq = from; seq <= to; seq++) out.push({ seq, at: 1_700_000_000_000 + seq, body: { model: 'm', version: '1', score: seq / 100, n: seq } });
  return out;
}

/** A port nothing listens on: bound by the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const until = Date.now() + timeoutMs;
    const poll = () => {
      const value = check();
      if (value !== undefined) resolve(value);
      else if (Date.now() > until) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(poll, 10);
    };
    poll();
  });
}

describe('hub storage: postgres only', () => {
  const opened: HubStorage[] = [];
  let schemaCount = 0;
  /** A fresh schema name per test, dropped with the database. */
  const freshSchema = () => `only_${++schemaCount}`;
  const open = async (schema: string, extra: { applyMigrations?: boolean } = {}) => {
    const storage = await openPostgresHubStorage({ url: db.url, schema, poolSize: 4, ...extra });
    opened.push(storage);
    return storage;
  };

  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
  });

  it('records migrations once when two replicas open a new schema at the same time', async () => {
    const schema = freshSchema();
    const [a, b] = await Promise.all([open(schema), open(schema)]);
    expect([a.kind, b.kind]).toEqual(['postgres', 'postgres']);
    const rows = await db.query<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`);
    expect(rows.rows.map((r) => r.version)).toEqual(Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => i + 1));
    expect(await migratePostgres(db.url, schema)).toEqual({ applied: [], current: LATEST_SCHEMA_VERSION });
    // Both work on the same tables.
    await a.setMeta('k', 1);
    expect(await b.getMeta('k')).toBe(1);
  });

  it('applies migrations explicitly and reports what it applied', async () => {
    const schema = freshSchema();
    const first = await migratePostgres(db.url, schema);
    expect(first.applied.length).toBe(LATEST_SCHEMA_VERSION);
    expect(first.current).toBe(LATEST_SCHEMA_VERSION);
    const storage = await open(schema, { applyMigrations: false });
    expect(await storage.countRecords('scores')).toBe(0);
  });

  it('refuses to open a schema that is behind when it may not migrate, naming the command', async () => {
    const schema = freshSchema();
    await expect(open(schema, { applyMigrations: false })).rejects.toMatchObject({
      code: 'VIGIL_HUB_STORAGE_FAILED',
      message: expect.stringContaining('vigil hub migrate'),
    });
  });

  it('refuses a schema newer than this software', async () => {
    const schema = freshSchema();
    await migratePostgres(db.url, schema);
    await db.query(`INSERT INTO ${schema}.schema_migrations (version) VALUES ($1)`, [LATEST_SCHEMA_VERSION + 1]);
    await expect(open(schema)).rejects.toMatchObject({ code: 'VIGIL_HUB_STORAGE_FAILED', message: expect.stringContaining('newer') });
    await expect(open(schema, { applyMigrations: false })).rejects.toMatchObject({ code: 'VIGIL_HUB_STORAGE_FAILED' });
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    await expect(openPostgresHubStorage({ url: db.url, schema: 'x"; DROP TABLE y; --' })).rejects.toMatchObject({ code: 'VIGIL_HUB_STORAGE_FAILED' });
  });

  it('fails with VIGIL_HUB_STORAGE_FAILED naming host:port, never the password, when the server does not answer', async () => {
    const port = await closedPort();
    const attempt = openPostgresHubStorage({ url: `postgres://vigil:s3cret-pw@127.0.0.1:${port}/hub` });
    await expect(attempt).rejects.toMatchObject({ code: 'VIGIL_HUB_STORAGE_FAILED', retryable: true });
    const message = await attempt.catch((err: Error) => err.message);
    expect(message).toContain(`127.0.0.1:${port}`);
    expect(message).not.toContain('s3cret-pw');
  });

  it('stores a batch once in total when two replicas ingest it at the same time', async () => {
    const schema = freshSchema();
    const a = await open(schema);
    const b = await open(schema);
    const results = await Promise.all([
      a.ingest('a1', 'e1', 'scores', records(1, 500), 1000),
      b.ingest('a1', 'e1', 'scores', records(1, 500), 1001),
      a.ingest('a1', 'e1', 'scores', records(250, 750), 1002),
      b.ingest('a1', 'e1', 'scores', records(1, 750), 1003),
    ]);
    expect(results.reduce((n, r) => n + r.stored, 0)).toBe(750);
    expect(await b.countRecords('scores')).toBe(750);
    expect(await a.storedUpTo('a1', 'e1', 'scores')).toBe(750);
    const rows = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.records`);
    expect(Number(rows.rows[0]!.n)).toBe(750);
    // Each score counted once into the histogram, whichever replica stored it.
    expect((await a.scoreHistogram('m', '1')).total).toBe(750);
  });

  it('delivers a message published on one replica to subscribers on every replica', async () => {
    const schema = freshSchema();
    const a = await open(schema);
    const b = await open(schema);
    const onA: unknown[] = [];
    const onB: unknown[] = [];
    a.subscribe((m) => onA.push(m));
    const unsubscribe = b.subscribe((m) => onB.push(m));
    b.subscribe(() => {
      throw new Error('a broken listener');
    });
    // b's own publish waits until b listens; after it, a's message reaches b too.
    await b.publish({ ready: true });
    await waitFor('b to hear itself', () => (onB.length > 0 ? true : undefined));
    await a.publish({ type: 'deployment', id: 'd1' });
    await waitFor('b to hear a', () => onB.find((m) => (m as { id?: string }).id === 'd1'));
    await waitFor('a to hear itself', () => onA.find((m) => (m as { id?: string }).id === 'd1'));
    unsubscribe();
    await a.publish({ type: 'after' });
    await waitFor('a to hear the second message', () => onA.find((m) => (m as { type?: string }).type === 'after'));
    expect(onB.some((m) => (m as { type?: string }).type === 'after')).toBe(false);
  });

  it('carries on after the server drops its connections: queries reconnect, the listener listens again', async () => {
    const a = await open(freshSchema());
    const heard: unknown[] = [];
    a.subscribe((m) => heard.push(m));
    await a.ingest('a1', 'e1', 'events', records(1, 2), 1);
    await a.publish({ ready: true });
    await waitFor('the listener', () => (heard.length === 0 ? undefined : true));
    const killed = await db.query<{ n: string }>(
      `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    expect(Number(killed.rows[0]!.n)).toBeGreaterThanOrEqual(2);
    // A pooled connection the client has not yet seen die may fail one call, as retryable; the next gets a new one.
    const ingest = () => a.ingest('a1', 'e1', 'events', records(3, 4), 2);
    const result = await ingest().catch(async (err: unknown) => {
      expect(err).toMatchObject({ code: 'VIGIL_HUB_STORAGE_FAILED', retryable: true });
      return ingest();
    });
    expect(result).toEqual({ stored: 2, duplicates: 0 });
    // The listener comes back after its backoff; until then messages are missed (best effort), so keep publishing.
    const until = Date.now() + 10_000;
    while (!heard.some((m) => (m as { n?: number }).n !== undefined) && Date.now() < until) {
      await a.publish({ n: Date.now() });
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(heard.some((m) => (m as { n?: number }).n !== undefined)).toBe(true);
  });

  it('refuses a message over the NOTIFY limit', async () => {
    const a = await open(freshSchema());
    await expect(a.publish({ blob: 'x'.repeat(FLEET_MESSAGE_MAX_BYTES) })).rejects.toMatchObject({ code: 'VIGIL_HUB_STORAGE_FAILED' });
    await expect(a.publish({ blob: 'x'.repeat(FLEET_MESSAGE_MAX_BYTES - 20) })).resolves.toBeUndefined();
  });

  it('holds a lock across replicas: the second waits until the first is done', async () => {
    const schema = freshSchema();
    const a = await open(schema);
    const b = await open(schema);
    const events: string[] = [];
    let releaseFirst!: () => void;
    const firstHolds = new Promise<void>((resolve) => (releaseFirst = resolve));
    let firstEntered!: () => void;
    const entered = new Promise<void>((resolve) => (firstEntered = resolve));
    const first = a.withLock('digest', async () => {
      events.push('a in');
      firstEntered();
      await firstHolds;
      events.push('a out');
      return 'a';
    });
    await entered;
    const second = b.withLock('digest', async () => {
      events.push('b in');
      return 'b';
    });
    // A different name is not blocked.
    expect(await b.withLock('other', async () => 'free')).toBe('free');
    await new Promise((r) => setTimeout(r, 300));
    expect(events).toEqual(['a in']);
    releaseFirst();
    expect(await Promise.all([first, second])).toEqual(['a', 'b']);
    expect(events).toEqual(['a in', 'a out', 'b in']);
    // A throwing holder releases the lock too.
    await expect(a.withLock('digest', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await b.withLock('digest', async () => 'again')).toBe('again');
  });

  it('stores bodies with strings jsonb would refuse (NUL, a lone surrogate) exactly', async () => {
    const a = await open(freshSchema());
    const body = { model: 'm\u0000x', tag: 'flow\u0000', note: 'half \ud800 pair', n: 0.1 + 0.2 };
    const episodeLike = { id: 'e\u0000', revision: 1, agent: 'a1', model: 'm', version: '1', start: 1, end: null, peakScore: 1, thresholds: { warn: 1, alarm: 2 } };
    expect(await a.ingest('a1', 'e1', 'events', [{ seq: 1, at: 1, body }], 5)).toEqual({ stored: 1, duplicates: 0 });
    expect(await a.ingest('a1', 'e1', 'episodes', [{ seq: 1, at: 1, body: episodeLike }], 5)).toEqual({ stored: 1, duplicates: 0 });
    expect((await a.listRecords('events', {}))[0]?.body).toEqual(body);
    expect((await a.listRecords('episodes', {}))[0]?.body).toEqual(episodeLike);
  });

  it('scans every record of a stream once, in pages', async () => {
    const a = await open(freshSchema());
    await a.ingest('b', 'e1', 'events', records(1, 4), 10);
    await a.ingest('a', 'e2', 'events', records(1, 3), 11);
    await a.ingest('a', 'e1', 'events', records(5, 6), 12);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<HubStorage['scanRecords']>> = await a.scanRecords('events', cursor, 3);
      seen.push(...page.records.map((r) => `${r.agent}/${r.epoch}/${r.seq}`));
      cursor = page.next;
      pages++;
    } while (cursor !== null);
    expect(seen).toEqual(['a/e1/5', 'a/e1/6', 'a/e2/1', 'a/e2/2', 'a/e2/3', 'b/e1/1', 'b/e1/2', 'b/e1/3', 'b/e1/4']);
    expect(pages).toBe(3);
  });
});
