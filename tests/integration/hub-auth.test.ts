import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE_CODES } from '../../shared/sync-protocol.js';
import { api, startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { connectSync, heartbeat, hello, refusedUpgrade } from '../helpers/raw-sync-client.js';

let hub: HubProcess;
let agentToken: string;
let admin: string;
let viewer: string;

beforeAll(async () => {
  hub = await startHubProcess();
  [agentToken, admin, viewer] = await Promise.all([hub.addAgent('gw-auth', { line: '2' }), hub.addApiToken('admin', 'admin'), hub.addApiToken('watcher', 'viewer')]);
});

afterAll(async () => {
  await hub?.stop();
});

const headers = (agent: string, token: string) => ({ authorization: `Bearer ${token}`, 'x-vigil-agent': agent });

async function helloed(agent: string, token: string) {
  const client = await connectSync(hub.syncUrl, agent, token);
  client.send(hello(agent, 'e1'));
  await client.next('welcome');
  return client;
}

describe('agent authentication at the websocket upgrade', () => {
  it('refuses an unknown agent, a wrong token and missing headers with 401 JSON before any websocket', async () => {
    const cases: Array<Record<string, string>> = [headers('gw-nobody', agentToken), headers('gw-auth', agentToken.slice(0, -2) + 'xx'), { 'x-vigil-agent': 'gw-auth' }, {}];
    for (const h of cases) {
      const refused = await refusedUpgrade(hub.syncUrl, h);
      expect(refused.status).toBe(401);
      expect(refused.body.error.code).toBe('VIGIL_HUB_UNAUTHORIZED');
    }
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/vigil_hub_upgrades_refused_total\{reason="refused"\} 2/);
    expect(hub.process.stdout()).not.toContain(agentToken);
  });

  it('accepts the token `vigil hub agents add` printed; the CLI lists the agent online', async () => {
    const client = await helloed('gw-auth', agentToken);
    const list = await hub.cli(['agents', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/gw-auth\s+online \(test-hub\).*line=2/);
    await client.close();
  });

  it('revoking through the API closes the live connection at once and refuses the next one', async () => {
    const { token } = (await api(hub.url, '/api/agents', { token: admin, body: { id: 'gw-api-revoke' } })).json;
    const client = await helloed('gw-api-revoke', token);
    const revoked = await api(hub.url, '/api/agents/gw-api-revoke/revoke', { token: admin, method: 'POST' });
    expect(revoked.status).toBe(200);
    expect(revoked.json).toMatchObject({ id: 'gw-api-revoke', revoked: true });
    expect((await client.closed).code).toBe(CLOSE_CODES.REVOKED);
    const refused = await refusedUpgrade(hub.syncUrl, headers('gw-api-revoke', token));
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toMatch(/revoked/);

    // A new token lifts the revoke; the old one stays refused.
    const renewed = await api(hub.url, '/api/agents/gw-api-revoke/token', { token: admin, method: 'POST' });
    expect(renewed.status).toBe(200);
    expect(renewed.json.token).toMatch(/^vga_/);
    expect((await refusedUpgrade(hub.syncUrl, headers('gw-api-revoke', token))).status).toBe(401);
    await (await helloed('gw-api-revoke', renewed.json.token)).close();
  });

  it('revoking with the CLI (another process) closes the connection at its next heartbeat', async () => {
    const token = await hub.addAgent('gw-cli-revoke');
    const client = await helloed('gw-cli-revoke', token);
    const result = await hub.cli(['agents', 'revoke', 'gw-cli-revoke']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/revoked/);
    client.send(heartbeat(Date.now()));
    expect((await client.closed).code).toBe(CLOSE_CODES.REVOKED);
    expect((await refusedUpgrade(hub.syncUrl, headers('gw-cli-revoke', token))).status).toBe(401);
  });
});

describe('API authentication and roles', () => {
  it('answers health and the signing key without a token, and nothing else', async () => {
    expect((await api(hub.url, '/api/health')).json).toMatchObject({ status: 'ok', hub: 'test-hub', storage: 'lmdb' });
    const key = await api(hub.url, '/api/signing-key');
    expect(key.text).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect((await hub.cli(['key'])).stdout.trim()).toBe(key.text.trim());

    const anonymous = await api(hub.url, '/api/agents');
    expect(anonymous.status).toBe(401);
    expect(anonymous.json.error.code).toBe('VIGIL_API_UNAUTHORIZED');
    const wrong = await api(hub.url, '/api/agents', { token: admin.slice(0, -3) + 'abc' });
    expect(wrong.status).toBe(401);
  });

  it('lets a viewer read but not manage agents (403), and agents only into agent routes', async () => {
    expect((await api(hub.url, '/api/agents', { token: viewer })).status).toBe(200);
    const forbidden = await api(hub.url, '/api/agents', { token: viewer, body: { id: 'gw-x' } });
    expect(forbidden.status).toBe(403);
    expect(forbidden.json.error.code).toBe('VIGIL_API_FORBIDDEN');
    expect(forbidden.json.error.message).toMatch(/admin role.*watcher.*viewer/);
    const asAgent = await api(hub.url, '/api/agents', { token: agentToken, headers: { 'x-vigil-agent': 'gw-auth' } });
    expect(asAgent.status).toBe(403);
  });

  it('has stable error codes: 404, 400 naming the field, 409, 405', async () => {
    const missing = await api(hub.url, '/api/agents/gw-nope', { token: admin });
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('VIGIL_API_NOT_FOUND');
    expect((await api(hub.url, '/api/nothing-here', { token: admin })).status).toBe(404);

    const badId = await api(hub.url, '/api/agents', { token: admin, body: { id: 'Not An Id' } });
    expect(badId.status).toBe(400);
    expect(badId.json.error).toMatchObject({ code: 'VIGIL_API_BAD_REQUEST', message: expect.stringMatching(/^id: /) });
    const badLabels = await api(hub.url, '/api/agents', { token: admin, body: { id: 'gw-ok', labels: { line: 3 } } });
    expect(badLabels.status).toBe(400);
    expect(badLabels.json.error.message).toMatch(/labels\.line/);
    const notJson = await fetch(`${hub.url}/api/agents`, { method: 'POST', headers: { authorization: `Bearer ${admin}` }, body: '{nope' });
    expect(notJson.status).toBe(400);

    const duplicate = await api(hub.url, '/api/agents', { token: admin, body: { id: 'gw-auth' } });
    expect(duplicate.status).toBe(409);
    expect(duplicate.json.error.code).toBe('VIGIL_API_CONFLICT');

    expect((await api(hub.url, '/api/agents/gw-auth', { token: admin, method: 'DELETE' })).status).toBe(405);
  });

  it('a revoked API token is refused', async () => {
    const token = await hub.addApiToken('short-lived', 'viewer');
    expect((await api(hub.url, '/api/agents', { token })).status).toBe(200);
    const id = /^vgt_([0-9a-f]{12})\./.exec(token)?.[1] ?? '';
    const listed = await hub.cli(['tokens', 'list']);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+short-lived\\s+viewer`));
    expect(listed.stdout).not.toContain(token);
    expect((await hub.cli(['tokens', 'revoke', id])).code).toBe(0);
    const refused = await api(hub.url, '/api/agents', { token });
    expect(refused.status).toBe(401);
    expect(refused.json.error.message).toMatch(/revoked/);
  });

  it('refuses a body larger than http.maxBodyBytes with 413', async () => {
    const response = await fetch(`${hub.url}/api/agents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'gw-huge', labels: { blob: 'x'.repeat(65 * 1024 * 1024) } }),
    });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('VIGIL_API_TOO_LARGE');
  });
});
