import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiToken } from '../../cloud-sync/auth/api-token-issue.js';
import { addDeploymentCommands, runDeploy, runDeployments, runRollback } from '../../cloud-sync/cli/deploy-commands.js';
import { runModelPush } from '../../cloud-sync/cli/model-push.js';
import { loadHubConfig } from '../../cloud-sync/config/load-hub-config.js';
import { startHub, type RunningHub } from '../../cloud-sync/start-hub.js';
import { silentLogger } from '../../shared/logger.js';
import { pcaPackage, PUMP1_TAGS } from '../helpers/pca-package.js';

/**
 * `vigil model push`, `vigil hub deploy|deployments|rollback` against a hub
 * started in this process on a free port (real HTTP, auth, LMDB). Agents are
 * created in storage but never connect: what is checked here is the command
 * line, the API and the records.
 */

let dir: string;
let hub: RunningHub;
let env: NodeJS.ProcessEnv;
let viewerEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-hub-cli-'));
  writeFileSync(join(dir, 'hub.yaml'), 'hub: { id: test-hub, dataDir: ./data }\nhttp: { host: 127.0.0.1, port: 0 }\n');
  hub = await startHub(await loadHubConfig(join(dir, 'hub.yaml')), silentLogger());
  env = { VIGIL_HUB_URL: hub.url, VIGIL_HUB_TOKEN: (await issueApiToken(hub.storage, 'alice', 'admin')).token };
  viewerEnv = { VIGIL_HUB_URL: hub.url, VIGIL_HUB_TOKEN: (await issueApiToken(hub.storage, 'victor', 'viewer')).token };
  for (const [id, line] of [['gw1', '1'], ['gw2', '1'], ['gw3', '2']] as const) {
    await hub.storage.createAgent({ id, labels: { line }, tokenHash: 'h', tokenSalt: 's', createdAt: Date.now() });
  }
  await hub.storage.updateAgentPresence('gw1', { models: [{ name: 'pump-pca', active: '0.9.0', shadow: null, previous: null, state: 'scoring' }] });
});

afterAll(async () => {
  await hub?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function capture(): { out: (line: string) => void; text: () => string } {
  const lines: string[] = [];
  return { out: (line) => lines.push(line), text: () => lines.join('\n') };
}

async function packageFile(version: string): Promise<string> {
  const file = join(dir, `pump-pca-${version}.vmodel`);
  writeFileSync(file, await pcaPackage({ name: 'pump-pca', version, tags: PUMP1_TAGS, samplePeriodMs: 1000 }));
  return file;
}

describe('vigil model push', () => {
  it('uploads once, then reports the conflict with the API code and exit code 1', async () => {
    const file = await packageFile('1.0.0');
    const first = capture();
    expect(await runModelPush(file, {}, first.out, env)).toBe(0);
    expect(first.text()).toMatch(/^✔ pump-pca@1\.0\.0 stored and signed by http:\/\/127\.0\.0\.1:\d+ \(\d+\.\d KiB; sha256 [0-9a-f]{12}…\)/);

    const again = capture();
    expect(await runModelPush(file, {}, again.out, env)).toBe(1);
    expect(again.text()).toBe('✖ VIGIL_API_CONFLICT: model pump-pca version 1.0.0 exists (the same package was uploaded before); versions are immutable — raise the version');
  });

  it('fails clearly without a token, with a viewer token, with a damaged package, and without a hub', async () => {
    const file = await packageFile('1.0.1');
    const noToken = capture();
    expect(await runModelPush(file, {}, noToken.out, { VIGIL_HUB_URL: hub.url })).toBe(1);
    expect(noToken.text()).toContain('no API token: set VIGIL_HUB_TOKEN or pass --token-file');

    const viewer = capture();
    expect(await runModelPush(file, {}, viewer.out, viewerEnv)).toBe(1);
    expect(viewer.text()).toMatch(/^✖ VIGIL_API_FORBIDDEN: .*admin/);

    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${env.VIGIL_HUB_TOKEN}\n`);
    const damagedFile = join(dir, 'damaged.vmodel');
    writeFileSync(damagedFile, 'not a package');
    const damaged = capture();
    expect(await runModelPush(damagedFile, { hub: hub.url, tokenFile }, damaged.out, {})).toBe(1);
    expect(damaged.text()).toMatch(/^✖ VIGIL_API_BAD_REQUEST: the package was refused \(VIGIL_MODEL_PACKAGE_INVALID\)/);

    const unreachable = capture();
    expect(await runModelPush(file, { hub: 'http://127.0.0.1:9' }, unreachable.out, env)).toBe(1);
    expect(unreachable.text()).toMatch(/^✖ VIGIL_HUB_UNREACHABLE: cannot reach the hub at http:\/\/127\.0\.0\.1:9/);
  });
});

describe('vigil hub deploy, deployments, rollback', () => {
  it('deploys with a shadow period and a canary, lists, shows and rolls back', async () => {
    await runModelPush(await packageFile('1.1.0'), {}, () => {}, env);

    const deployed = capture();
    expect(await runDeploy('pump-pca', '1.1.0', { agent: ['gw3', 'gw2', 'gw1'], label: {}, shadow: 600_000, canary: 2 }, deployed.out, env)).toBe(0);
    const [deployment] = await hub.storage.listDeployments();
    expect(deployment).toMatchObject({ model: 'pump-pca', version: '1.1.0', mode: 'shadow', shadowMs: 600_000, canary: 2, selector: { agents: ['gw3', 'gw2', 'gw1'], labels: {} }, createdBy: 'alice' });
    const text = deployed.text();
    expect(text).toContain(`✔ deploying pump-pca@1.1.0 to 3 agents`);
    expect(text).toContain(`${deployment!.id}  pump-pca@1.1.0  rolling out  (shadow 10m, then activate; canary 2)`);
    expect(text).toMatch(/gw1\s+canary\s+pending\s+1\.1\.0\s+0\.9\.0/);
    expect(text).toMatch(/gw2\s+canary\s+pending\s+1\.1\.0\s+–/);
    expect(text).toMatch(/gw3\s+rest\s+pending\s+1\.1\.0\s+–/);

    const listed = capture();
    expect(await runDeployments(undefined, { model: 'pump-pca' }, listed.out, viewerEnv)).toBe(0);
    expect(listed.text()).toMatch(new RegExp(`${deployment!.id}\\s+pump-pca\\s+1\\.1\\.0\\s+rolling out\\s+3\\s+pending 3`));

    const shown = capture();
    expect(await runDeployments(deployment!.id, {}, shown.out, viewerEnv)).toBe(0);
    expect(shown.text()).toContain('created by alice');

    const rolled = capture();
    expect(await runRollback(deployment!.id, { reason: 'wrong thresholds' }, rolled.out, env)).toBe(0);
    const rollback = (await hub.storage.listDeployments())[0]!;
    expect(rollback).toMatchObject({ rollbackOf: deployment!.id, version: '0.9.0', reason: 'wrong thresholds; gw2: no previous version to return to' });
    // gw3's wave was never opened: it was never sent the version, so it is left out.
    expect((await hub.storage.listTargets(rollback.id)).map((t) => [t.agent, t.status])).toEqual([['gw1', 'pending'], ['gw2', 'rolled_back']]);
    expect(rolled.text()).toContain(`✔ rolling back ${deployment!.id}: 1 agent returns to the previous version`);
    expect(rolled.text()).toContain('! gw2: no previous version to return to; if it took pump-pca@1.1.0, it keeps it');

    const twice = capture();
    expect(await runRollback(deployment!.id, {}, twice.out, env)).toBe(1);
    expect(twice.text()).toMatch(/^✖ VIGIL_API_CONFLICT: deployment .* is already rolled back/);
  });

  it('reports a bad selection with the API error, and parses the command line', async () => {
    const unknown = capture();
    expect(await runDeploy('pump-pca', '1.0.0', { agent: ['gw1', 'gw9'], label: {} }, unknown.out, env)).toBe(1);
    expect(unknown.text()).toBe('✖ VIGIL_API_BAD_REQUEST: unknown agent: gw9 (see vigil hub agents list)');
    const missing = capture();
    expect(await runDeploy('pump-pca', '7.0.0', { agent: ['gw1'], label: {} }, missing.out, env)).toBe(1);
    expect(missing.text()).toMatch(/^✖ VIGIL_API_NOT_FOUND: model pump-pca version 7\.0\.0 is not in the registry/);

    const program = new Command().exitOverride();
    const hubCommand = program.command('hub');
    addDeploymentCommands(hubCommand);
    const writes: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => (writes.push(chunk), true)) as typeof process.stdout.write;
    try {
      await program.parseAsync(['hub', 'deploy', 'pump-pca', '1.0.0', '--agent', 'gw3', '--agent', 'gw1', '--shadow', '1h30m', '--hub', hub.url, '--token-env', 'CLI_TEST_TOKEN'], { from: 'user' }).catch(() => {});
    } finally {
      process.stdout.write = write;
    }
    // No CLI_TEST_TOKEN in the environment: the command refuses before calling the hub.
    expect(writes.join('')).toContain('no API token: set CLI_TEST_TOKEN');
    expect(process.exitCode).toBe(1);
    process.exitCode = 0;

    process.env.CLI_TEST_TOKEN = env.VIGIL_HUB_TOKEN;
    process.stdout.write = ((chunk: string) => (writes.push(chunk), true)) as typeof process.stdout.write;
    try {
      await program.parseAsync(['hub', 'deploy', 'pump-pca', '1.0.0', '--agent', 'gw2', '--agent', 'gw1', '--label', 'line=1', '--shadow', '1h30m', '--canary', '1', '--hub', hub.url, '--token-env', 'CLI_TEST_TOKEN'], { from: 'user' });
    } finally {
      process.stdout.write = write;
      delete process.env.CLI_TEST_TOKEN;
    }
    expect(process.exitCode).toBe(0);
    expect((await hub.storage.listDeployments())[0]).toMatchObject({ version: '1.0.0', selector: { agents: ['gw2', 'gw1'], labels: { line: '1' } }, mode: 'shadow', shadowMs: 5_400_000, canary: 1 });
    expect(() => program.parse(['hub', 'deploy', 'pump-pca', '1.0.0', '--shadow', '10'], { from: 'user' })).toThrow(/not a duration/);
  });
});
