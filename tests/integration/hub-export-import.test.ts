import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPackageSignature } from '../../shared/package-signature.js';
import { syntheticEpisode } from '../helpers/episode-fixture.js';
import { api, runVigil, startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { addHubUser } from '../helpers/hub-users.js';
import { PUMP1_TAGS, pcaPackage } from '../helpers/pca-package.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres-test-db.js';
import { batch, connectSync, hello } from '../helpers/raw-sync-client.js';
import { spawnVigil } from '../helpers/agent-process.js';

const AGENT = 'gw-move';
const EPOCH = 'move-epoch';
const T0 = Date.UTC(2026, 5, 1, 6);

/**
 * Moving a hub from LMDB to PostgreSQL as an operator would: stop the hub,
 * `vigil hub export`, `vigil hub import` into the new storage, start the hub
 * on it. Agents keep their tokens and cursors, packages keep verifying with
 * the same public key, answers and users survive.
 */
describe('vigil hub export | import (LMDB → PostgreSQL)', () => {
  let dir: string;
  let db: TestDatabase;
  let source: HubProcess;
  let target: HubProcess | undefined;
  let agentToken: string;
  let sourcePublicKey: string;
  const exportFile = () => join(dir, 'hub.vigil-export');
  const targetDir = () => join(dir, 'target');

  const targetYaml = (schema: string) =>
    ['hub:', '  id: test-hub', '  dataDir: ./data', 'http:', '  host: 127.0.0.1', '  port: 0', 'storage:', '  type: postgres', `  url: "${db.url}"`, `  schema: ${schema}`].join('\n') + '\n';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-move-'));
    db = await createTestDatabase();
    source = await startHubProcess();
    const admin = await source.addApiToken('admin', 'admin');
    agentToken = await source.addAgent(AGENT, { line: '2' });
    await addHubUser(source, { name: 'anna', role: 'operator', password: 'correct horse battery' });
    const file = join(dir, 'pump.vmodel');
    writeFileSync(file, await pcaPackage({ name: 'pump-pca', version: '1.0.0', tags: PUMP1_TAGS, samplePeriodMs: 1000 }));
    const push = spawnVigil(['model', 'push', file], { VIGIL_HUB_URL: source.url, VIGIL_HUB_TOKEN: admin });
    expect(await push.exited).toBe(0);

    const client = await connectSync(source.syncUrl, AGENT, agentToken);
    client.send(hello(AGENT, EPOCH));
    await client.next('welcome');
    const scores = Array.from({ length: 50 }, (_, i) => ({ model: 'pump-pca', version: '1.0.0', shadow: false, start: T0 + i * 1000, end: T0 + i * 1000 + 1000, status: 'scored', score: i / 10, level: 'normal', contributions: {}, quality: { filledShare: 0, badShare: 0 } }));
    client.send(batch('scores', EPOCH, 1, scores.slice(0, 30)));
    client.send(batch('scores', EPOCH, 31, scores.slice(30)));
    const episodes = [0, 1].map((k) => syntheticEpisode({ agent: AGENT, model: 'pump-pca', version: '1.0.0', start: T0 + k * 600_000, end: T0 + k * 600_000 + 60_000, tags: PUMP1_TAGS.slice(0, 2), peak: 5 }));
    client.send(batch('episodes', EPOCH, 1, episodes));
    for (const upTo of [30, 50, 2]) expect((await client.next('ack')).upTo).toBe(upTo);
    await client.close();
    const resolved = await api(source.url, `/api/episodes/${encodeURIComponent(episodes[0]!.id)}/resolution`, { token: admin, body: { label: 'real', cause: 'cavitation', note: 'moved with the hub' } });
    expect(resolved.status).toBe(200);
    sourcePublicKey = (await api(source.url, '/api/signing-key')).text;
    await source.stop(true);
  }, 120_000);

  afterAll(async () => {
    await target?.stop();
    await source?.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('moves agents, tokens, cursors, results, answers, models, users and the signing key', async () => {
    const exported = await runVigil(['hub', 'export', '--out', exportFile(), '--config', source.configFile]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toContain('exported 1 agents, 52 records, 1 resolutions, 1 model versions');

    const configFile = join(dir, 'target.yaml');
    writeFileSync(configFile, targetYaml('vigil'));
    const imported = await runVigil(['hub', 'import', exportFile(), '--config', configFile]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain('imported 1 agents, 52 records, 1 resolutions, 1 model versions');
    expect(imported.stdout).toContain('into postgres storage');

    mkdirSync(targetDir());
    target = await startHubProcess({ dir: targetDir(), postgres: { url: db.url, schema: 'vigil' } });
    expect((await api(target.url, '/api/health')).json).toMatchObject({ storage: 'postgres' });
    // Same key: agents configured with the old public key accept the new hub's packages.
    expect((await api(target.url, '/api/signing-key')).text).toBe(sourcePublicKey);

    // Same token, same cursors: the agent resumes after seq 50 instead of resending.
    const client = await connectSync(target.syncUrl, AGENT, agentToken);
    client.send(hello(AGENT, EPOCH));
    expect((await client.next('welcome')).stored).toEqual({ scores: 50, episodes: 2, events: 0 });
    await client.close();

    // The web user logs in with the same password and sees the answer given on the old hub.
    const login = await api(target.url, '/api/session', { body: { username: 'anna', password: 'correct horse battery' } });
    expect(login.status).toBe(200);
    const admin = await target.addApiToken('admin2', 'admin');
    const list = (await api(target.url, '/api/episodes?status=resolved', { token: admin })).json;
    expect(list.episodes).toHaveLength(1);
    expect(list.episodes[0].resolution).toMatchObject({ label: 'real', cause: 'cavitation', note: 'moved with the hub', by: 'admin' });
    expect((await api(target.url, `/api/records/scores?agent=${AGENT}&limit=1000`, { token: admin })).json.total).toBe(50);
    const agents = (await api(target.url, '/api/agents', { token: admin })).json.agents;
    expect(agents).toEqual([expect.objectContaining({ id: AGENT, labels: { line: '2' } })]);

    const version = (await api(target.url, '/api/models/pump-pca/versions/1.0.0', { token: admin })).json;
    const pkg = await fetch(`${target.url}/api/models/pump-pca/versions/1.0.0/package`, { headers: { authorization: `Bearer ${admin}` } });
    const bytes = new Uint8Array(await pkg.arrayBuffer());
    expect(checkPackageSignature(bytes, version.sha256, version.signature, sourcePublicKey)).toMatchObject({ ok: true });
  }, 120_000);

  it('refuses a target that is not empty, and a file cut short, without writing anything', async () => {
    const used = join(dir, 'used.yaml');
    writeFileSync(used, targetYaml('vigil'));
    const again = await runVigil(['hub', 'import', exportFile(), '--config', used]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('the target hub storage is not empty');

    const lines = readFileSync(exportFile(), 'utf8').trimEnd().split('\n');
    const cut = join(dir, 'cut.vigil-export');
    writeFileSync(cut, lines.slice(0, -3).join('\n') + '\n');
    const fresh = join(dir, 'fresh.yaml');
    writeFileSync(fresh, targetYaml('fresh'));
    const truncated = await runVigil(['hub', 'import', cut, '--config', fresh]);
    expect(truncated.code).toBe(1);
    expect(truncated.stderr).toContain('has no end line: the export was cut short');
    expect((await db.query("SELECT count(*)::int AS n FROM fresh.agents")).rows[0]?.n).toBe(0);

    const damaged = join(dir, 'damaged.vigil-export');
    writeFileSync(damaged, [lines[0], '{"kind":"agent",', ...lines.slice(1)].join('\n') + '\n');
    const bad = await runVigil(['hub', 'import', damaged, '--config', fresh]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/damaged\.vigil-export:2: not JSON/);
  }, 120_000);
});
