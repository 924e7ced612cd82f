import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVigil } from '../helpers/hub-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres-test-db.js';

/** `vigil hub migrate` and `storage.migrate: manual`, as an operator upgrading replicas one by one would use them. */
describe('vigil hub migrate', () => {
  let db: TestDatabase;
  let dir: string;
  let config: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'vigil-migrate-'));
    config = join(dir, 'hub.yaml');
    writeFileSync(config, ['hub: { id: hub-a, dataDir: ./data }', 'http: { host: 127.0.0.1, port: 0 }', 'storage:', '  type: postgres', `  url: "${db.url}"`, '  migrate: manual', ''].join('\n'));
  });

  afterAll(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a replica set to manual refuses a schema that is behind, and starts once migrate has run', async () => {
    const refused = await runVigil(['hub', '--config', config]);
    expect(refused.code).toBe(1);
    expect(refused.stdout + refused.stderr).toContain('vigil hub migrate');

    const migrated = await runVigil(['hub', 'migrate', '--config', config]);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.stdout).toMatch(/applied migration\(s\) 1, 2 to schema vigil on postgres:\/\/postgres@127\.0\.0\.1:5432\/vigil_test_[0-9a-f]+; now at version 2/);
    const versions = await db.query<{ version: number }>('SELECT version FROM vigil.schema_migrations ORDER BY version');
    expect(versions.rows.map((r) => r.version)).toEqual([1, 2]);

    const again = await runVigil(['hub', 'migrate', '--config', config]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('is up to date (version 2)');

    // With the schema current, the admin commands (and the hub) open it.
    const agents = await runVigil(['hub', 'agents', 'list', '--config', config]);
    expect(agents.code, agents.stderr).toBe(0);
  }, 120_000);

  it('on LMDB there is nothing to migrate', async () => {
    const lmdb = join(dir, 'lmdb.yaml');
    writeFileSync(lmdb, 'hub: { id: hub-l, dataDir: ./lmdb-data }\n');
    const result = await runVigil(['hub', 'migrate', '--config', lmdb]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('nothing to migrate');
  });
});
