import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { startOpcuaPlant } from '../../agent/demo/opcua-plant.js';
import { eventually, spawnVigil } from '../helpers/agent-process.js';
import { startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { PUMP1_TAGS, pcaPackage } from '../helpers/pca-package.js';
import { LENIENT_MISSING_DATA, agentHealth, agentModels, writeSyncedAgentConfig } from '../helpers/sync-e2e.js';
import { batch, connectSync, hello, refusedUpgrade } from '../helpers/raw-sync-client.js';

const certDir = mkdtempSync(join(tmpdir(), 'vigil-hub-tls-'));
const certFile = join(certDir, 'hub.crt');
const keyFile = join(certDir, 'hub.key');
let ca: Buffer;
let hub: HubProcess;
let agentToken: string;

beforeAll(async () => {
  // A self-signed certificate for 127.0.0.1, made the way an operator would.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  ca = readFileSync(certFile);
  hub = await startHubProcess({ tls: { certFile, keyFile } });
  agentToken = await hub.addAgent('gw-tls');
});

afterAll(async () => {
  await hub?.stop();
  rmSync(certDir, { recursive: true, force: true });
});

function httpsGet(url: string, trust?: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, trust ? { ca: trust } : {}, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('hub over TLS', () => {
  it('serves the API over https and refuses clients that do not trust the certificate', async () => {
    expect(hub.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await httpsGet(`${hub.url}/api/health`, ca);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok' });
    await expect(httpsGet(`${hub.url}/api/health`)).rejects.toThrow(/self-signed|self signed/);
  });

  it('speaks the sync protocol over wss and checks tokens before the upgrade', async () => {
    expect(hub.syncUrl).toMatch(/^wss:/);
    const refused = await refusedUpgrade(hub.syncUrl, { authorization: 'Bearer vga_wrong', 'x-vigil-agent': 'gw-tls' }, { ca });
    expect(refused).toMatchObject({ status: 401, body: { error: { code: 'VIGIL_HUB_UNAUTHORIZED' } } });

    const client = await connectSync(hub.syncUrl, 'gw-tls', agentToken, { ca });
    client.send(hello('gw-tls', 'tls-epoch'));
    expect((await client.next('welcome')).stored).toEqual({ scores: 0, episodes: 0, events: 0 });
    client.send(batch('events', 'tls-epoch', 1, [{ kind: 'source_connected', at: Date.now(), agent: 'gw-tls', message: 'plc1 connected' }]));
    expect(await client.next('ack')).toMatchObject({ stream: 'events', upTo: 1 });
    await client.close();
  });

  it('a real agent trusts the hub through hub.caFile: syncs over wss and installs a deployment downloaded over https', async () => {
    const plant = await startOpcuaPlant({ port: 0, pumps: 1, updateIntervalMs: 200 });
    const dir = mkdtempSync(join(tmpdir(), 'vigil-agent-tls-'));
    const agent = { process: undefined as ReturnType<typeof spawnVigil> | undefined };
    try {
      const admin = await hub.addApiToken('tls-admin', 'admin');
      const token = await hub.addAgent('gw-tls-agent');
      const publicKeyPem = (await httpsGet(`${hub.url}/api/signing-key`, ca)).body;
      const config = writeSyncedAgentConfig(dir, { id: 'gw-tls-agent', endpoint: plant.endpoint, hubUrl: hub.url.replace(/^https/, 'wss'), token, publicKeyPem, caFile: certFile });
      agent.process = spawnVigil(['agent', '--config', config]);
      const agentUrl = String((await agent.process.waitForLog('agent running', 60_000)).http);
      await eventually(async () => ((await agentHealth(agentUrl)).hub.connected ? true : undefined), 'the agent to connect over wss', 30_000);

      // The operator's command line trusts the same certificate the usual Node way.
      const env = { VIGIL_HUB_URL: hub.url, VIGIL_HUB_TOKEN: admin, NODE_EXTRA_CA_CERTS: certFile };
      const file = join(dir, 'pump1-pca-1.0.0.vmodel');
      writeFileSync(file, await pcaPackage({ name: 'pump1-pca', version: '1.0.0', tags: PUMP1_TAGS, samplePeriodMs: 100, warn: 1e9, manifest: { missingData: LENIENT_MISSING_DATA } }));
      for (const args of [['model', 'push', file], ['hub', 'deploy', 'pump1-pca', '1.0.0', '--agent', 'gw-tls-agent']]) {
        const cli = spawnVigil(args, env);
        expect(await cli.exited, cli.stdout() + cli.stderr()).toBe(0);
      }
      await eventually(async () => ((await agentModels(agentUrl))[0]?.active === '1.0.0' ? true : undefined), 'the agent to run the deployed version', 60_000);
    } finally {
      agent.process?.child.kill('SIGTERM');
      await agent.process?.exited;
      await plant.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
