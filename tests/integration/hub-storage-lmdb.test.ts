import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { HubStorage } from '../../cloud-sync/storage/hub-storage.js';
import { openLmdbHubStorage } from '../../cloud-sync/storage/lmdb-storage.js';
import { hubStorageSuite } from '../helpers/hub-storage-suite.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
let root: string | undefined;

/** The store folder of the current test, created on first use. */
function storeDir(): string {
  root ??= mkdtempSync(join(tmpdir(), 'vigil-hub-storage-'));
  return join(root, 'store');
}

/** Node arguments running `body` in another process with `storage` opened on the store in `dir`. */
function storeScript(dir: string, body: string): string[] {
  const open = `const { openLmdbHubStorage } = await import(${JSON.stringify(join(repo, 'cloud-sync/storage/lmdb-storage.ts'))});
        const storage = await openLmdbHubStorage(${JSON.stringify(dir)});`;
  return ['--import', 'tsx', '--input-type=module', '-e', `${open}\n${body}`];
}

async function removeStore(): Promise<void> {
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
  root = undefined;
}

hubStorageSuite('lmdb', () => openLmdbHubStorage(storeDir()), removeStore);

describe('hub storage: lmdb only', () => {
  const opened: HubStorage[] = [];
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    await removeStore();
  });

  it('keeps every acknowledged batch across a kill -9 of the hub process', async () => {
    const dir = storeDir();
    const child = spawn(
      process.execPath,
      storeScript(dir, `
        for (let first = 1; ; first += 100) {
          const records = Array.from({ length: 100 }, (_, i) => ({ seq: first + i, at: 1, body: { model: 'm', n: first + i } }));
          await storage.ingest('a1', 'e1', 'scores', records, Date.now());
          // What the hub would ack now.
          process.stdout.write((first + 99) + '\\n');
        }
        `),
      { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise((r) => child.on('exit', r));
    const until = Date.now() + 20_000;
    while (out.split('\n').length < 40 && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await exited;
    expect(err).toBe('');
    const acked = Math.max(...out.trim().split(/\s+/).map(Number));
    expect(acked).toBeGreaterThanOrEqual(3000);

    const storage = await openLmdbHubStorage(dir);
    opened.push(storage);
    const upTo = await storage.storedUpTo('a1', 'e1', 'scores');
    expect(upTo).toBeGreaterThanOrEqual(acked);
    // Whole batches only, and nothing missing below the cursor.
    expect(upTo % 100).toBe(0);
    expect(await storage.countRecords('scores', 'a1')).toBe(upTo);
    const [newest] = await storage.listRecords('scores', { limit: 1 });
    expect(newest).toMatchObject({ seq: upTo, body: { model: 'm', n: upTo } });
  });

  it('sees what another process wrote a moment ago when deciding access (admin commands run beside the hub)', async () => {
    const storage = await openLmdbHubStorage(storeDir());
    opened.push(storage);
    // Reading takes a snapshot that lmdb-js reuses until a timer resets it; nothing below lets a timer run.
    expect(await storage.getApiToken('t9')).toBeUndefined();
    expect(await storage.getAgent('gw9')).toBeUndefined();
    execFileSync(
      process.execPath,
      storeScript(storeDir(), `
        await storage.createApiToken({ id: 't9', name: 'ci', role: 'admin', tokenHash: 'h', tokenSalt: 's', createdAt: 1, revokedAt: null });
        await storage.createAgent({ id: 'gw9', labels: {}, tokenHash: 'h', tokenSalt: 's', createdAt: 1 });
        await storage.close();
        `),
      { cwd: repo, stdio: 'pipe' },
    );
    expect(await storage.getApiToken('t9')).toMatchObject({ id: 't9', role: 'admin' });
    expect(await storage.getAgent('gw9')).toMatchObject({ id: 'gw9' });
  });

  it('fails to open with VIGIL_HUB_STORAGE_FAILED when the folder cannot be made', async () => {
    const parent = storeDir();
    mkdirSync(parent, { recursive: true });
    writeFileSync(join(parent, 'a-file'), 'not a folder');
    await expect(openLmdbHubStorage(join(parent, 'a-file', 'store'))).rejects.toMatchObject({ code: 'VIGIL_HUB_STORAGE_FAILED' });
  });

  it('refuses an epoch with a NUL character, which would alias another key', async () => {
    const storage = await openLmdbHubStorage(storeDir());
    opened.push(storage);
    const records = [{ seq: 1, at: 1, body: {} }];
    await expect(storage.ingest('a1', 'e\0x', 'scores', records, 1)).rejects.toMatchObject({ code: 'VIGIL_SYNC_PROTOCOL' });
    expect(await storage.countRecords('scores')).toBe(0);
  });

  it('grows the map past its initial size by itself', async () => {
    const storage = await openLmdbHubStorage(storeDir(), { mapSize: 256 * 1024 });
    opened.push(storage);
    const big = 'x'.repeat(1000);
    for (let i = 0; i < 10; i++) {
      const records = Array.from({ length: 500 }, (_, j) => ({ seq: i * 500 + j + 1, at: 1, body: { i, j, big } }));
      expect(await storage.ingest('a1', 'e1', 'events', records, 1000 + i)).toEqual({ stored: 500, duplicates: 0 });
    }
    expect(await storage.countRecords('events')).toBe(5000);
    expect(statSync(join(storeDir(), 'data.mdb')).size).toBeGreaterThan(4 * 1024 * 1024);
    expect((await storage.listRecords('events', { limit: 1 }))[0]?.body).toEqual({ i: 9, j: 499, big });
  });
});
