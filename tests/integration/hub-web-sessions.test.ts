import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiToken } from '../../cloud-sync/auth/api-token-issue.js';
import { WebSchema } from '../../cloud-sync/config/hub-config-schema.js';
import { loadHubConfig } from '../../cloud-sync/config/load-hub-config.js';
import { startHub, type RunningHub } from '../../cloud-sync/start-hub.js';
import { sessionIdHash } from '../../cloud-sync/users/web-session.js';
import type { Episode } from '../../shared/episode.js';
import { silentLogger } from '../../shared/logger.js';
import { spawnVigil } from '../helpers/agent-process.js';
import { runVigil } from '../helpers/hub-process.js';

/**
 * The web app's accounts against a real hub (in-process, real LMDB, real
 * HTTP): the first admin from the command line, logins and their rate limit,
 * sessions and idle expiry, CSRF and Origin checks, roles, the users and
 * causes APIs.
 */

const IDLE_MS = 1500;
const MAX_FAILURES = 3;

let dir: string;
let configFile: string;
let hub: RunningHub;
let adminToken: string;

interface Http {
  status: number;
  json: any;
  headers: Headers;
}

interface CallOptions {
  method?: string;
  body?: unknown;
  cookie?: string;
  csrf?: string;
  origin?: string;
  token?: string;
}

async function call(path: string, options: CallOptions = {}): Promise<Http> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.cookie) headers.cookie = options.cookie;
  if (options.csrf) headers['x-csrf-token'] = options.csrf;
  if (options.origin) headers.origin = options.origin;
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(hub.url + path, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined, headers: response.headers };
}

/** A logged-in browser: its cookie and CSRF token. */
interface Browser {
  cookie: string;
  csrf: string;
}

async function login(username: string, password: string): Promise<Browser & { setCookie: string }> {
  const response = await call('/api/session', { body: { username, password } });
  expect(response.status, JSON.stringify(response.json)).toBe(200);
  const setCookie = response.headers.get('set-cookie') ?? '';
  return { cookie: setCookie.split(';')[0] ?? '', csrf: response.json.csrfToken, setCookie };
}

/** POST /api/session from another loopback address, so each rate-limit case has an address of its own. */
function loginFrom(localAddress: string, username: string, password: string): Promise<{ status: number; body: any; retryAfter: string | undefined }> {
  const body = JSON.stringify({ username, password });
  return new Promise((resolve, reject) => {
    const req = request(`${hub.url}/api/session`, { method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), retryAfter: res.headers['retry-after'] }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const sessionOf = (browser: Browser) => hub.storage.getSession(sessionIdHash(browser.cookie.slice('vigil_session='.length)));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-hub-web-'));
  configFile = join(dir, 'hub.yaml');
  writeFileSync(configFile, ['hub:', '  id: web-hub', '  dataDir: ./data', 'http:', '  host: 127.0.0.1', '  port: 0', ''].join('\n'));
  // The first admin exists before the hub ever ran, as an operator would do it.
  const passwordFile = join(dir, 'alice.password');
  writeFileSync(passwordFile, 'alice-password-1\n', { mode: 0o600 });
  const added = await runVigil(['hub', 'users', 'add', 'alice', '--role', 'admin', '--password-file', passwordFile, '--config', configFile]);
  expect(added.code, added.stderr).toBe(0);
  expect(added.stdout).toMatch(/User alice created \(role admin\)/);

  const config = { ...(await loadHubConfig(configFile)), web: WebSchema.parse({ sessionIdleMinutes: IDLE_MS / 60_000, loginFailuresPerMinute: MAX_FAILURES }) };
  hub = await startHub(config, silentLogger(), { webDir: join(dir, 'no-web-app') });
  adminToken = (await issueApiToken(hub.storage, 'ci', 'admin')).token;
  for (const [name, role] of [['olga', 'operator'], ['victor', 'viewer'], ['brute', 'viewer']] as const) {
    expect((await call('/api/users', { token: adminToken, body: { name, role, password: `${name}-password-1` } })).status).toBe(201);
  }
}, 30_000);

afterAll(async () => {
  await hub?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('logging in and out', () => {
  it('logs in the admin the command line created: HttpOnly SameSite=Strict cookie, CSRF token, /api/session and /api/me', async () => {
    const { cookie, csrf, setCookie } = await login('alice', 'alice-password-1');
    expect(setCookie).toMatch(/^vigil_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/$/);
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await call('/api/session', { cookie })).json).toEqual({ user: { name: 'alice', role: 'admin' }, csrfToken: csrf });
    expect((await call('/api/me', { cookie })).json).toEqual({ name: 'alice', role: 'admin', kind: 'user' });
    expect((await call('/api/me', { token: adminToken })).json).toEqual({ name: 'ci', role: 'admin', kind: 'token' });
    expect((await call('/api/agents', { cookie })).status).toBe(200);
  });

  it('stores only the sha256 of the session id', async () => {
    const browser = await login('alice', 'alice-password-1');
    const id = browser.cookie.slice('vigil_session='.length);
    expect(await hub.storage.getSession(id)).toBeUndefined();
    expect(await sessionOf(browser)).toMatchObject({ user: 'alice', csrfToken: browser.csrf });
  });

  // The only failed logins from 127.0.0.1 (MAX_FAILURES - 1 of them): the other tests log in from there.
  it('answers an unknown user and a wrong password with the same 401 and no cookie', async () => {
    const unknown = await call('/api/session', { body: { username: 'mallory', password: 'whatever-password' } });
    const wrong = await call('/api/session', { body: { username: 'alice', password: 'not-her-password' } });
    expect(unknown.status).toBe(401);
    expect(unknown.json.error).toEqual({ code: 'VIGIL_API_UNAUTHORIZED', message: 'wrong user name or password' });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toEqual(unknown.json.error);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect((await call('/api/session')).status).toBe(401);
    expect((await call('/api/agents')).status).toBe(401);
  });

  it('rate-limits failed logins per user name and per client address (429), even with the right password', async () => {
    for (let i = 0; i < MAX_FAILURES; i++) expect((await loginFrom('127.0.0.2', 'brute', `guess-${i}`)).status).toBe(401);
    // The user name is blocked from any address…
    const limited = await loginFrom('127.0.0.3', 'brute', 'brute-password-1');
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('VIGIL_API_BAD_REQUEST');
    expect(Number(limited.retryAfter)).toBeGreaterThan(0);
    // …but other users are not.
    expect((await loginFrom('127.0.0.3', 'olga', 'olga-password-1')).status).toBe(200);

    // An address guessing many names is blocked for every name.
    for (const name of ['u1', 'u2', 'u3']) expect((await loginFrom('127.0.0.4', name, 'guess')).status).toBe(401);
    expect((await loginFrom('127.0.0.4', 'olga', 'olga-password-1')).status).toBe(429);
    expect((await loginFrom('127.0.0.5', 'olga', 'olga-password-1')).status).toBe(200);
  });

  it('logs out: session deleted, cookie cleared, the old cookie refused', async () => {
    const browser = await login('alice', 'alice-password-1');
    const out = await call('/api/session', { method: 'DELETE', ...browser });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toBe('vigil_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0');
    expect(await sessionOf(browser)).toBeUndefined();
    expect((await call('/api/session', { cookie: browser.cookie })).status).toBe(401);
    expect((await call('/api/agents', { cookie: browser.cookie })).status).toBe(401);
  });

  it('ends a session after the idle time and keeps one that is used', async () => {
    const idle = await login('olga', 'olga-password-1');
    const used = await login('olga', 'olga-password-1');
    for (let waited = 0; waited < IDLE_MS * 1.6; waited += IDLE_MS / 3) {
      expect((await call('/api/agents', { cookie: used.cookie })).status).toBe(200);
      await new Promise((r) => setTimeout(r, IDLE_MS / 3));
    }
    const expired = await call('/api/agents', { cookie: idle.cookie });
    expect(expired.status).toBe(401);
    expect(expired.json.error.message).toMatch(/expired/);
    expect(await sessionOf(idle)).toBeUndefined();
    expect((await call('/api/agents', { cookie: used.cookie })).status).toBe(200);
  });
});

describe('cross-site request forgery', () => {
  const agent = (id: string) => ({ id, labels: { line: '1' } });

  it('refuses a cookie-authenticated change without or with a wrong X-CSRF-Token (403), accepts the right one', async () => {
    const { cookie, csrf } = await login('alice', 'alice-password-1');
    const missing = await call('/api/agents', { cookie, body: agent('gw-csrf-1') });
    expect(missing.status).toBe(403);
    expect(missing.json.error.code).toBe('VIGIL_API_FORBIDDEN');
    expect(missing.json.error.message).toMatch(/X-CSRF-Token/);
    const wrong = await call('/api/agents', { cookie, csrf: csrf.slice(0, -2) + (csrf.endsWith('zz') ? 'yy' : 'zz'), body: agent('gw-csrf-1') });
    expect(wrong.status).toBe(403);
    expect(await hub.storage.getAgent('gw-csrf-1')).toBeUndefined();
    expect((await call('/api/agents', { cookie, csrf, body: agent('gw-csrf-1') })).status).toBe(201);
  });

  it("refuses a cookie-authenticated change from another site's Origin (403), accepts the hub's own", async () => {
    const browser = await login('alice', 'alice-password-1');
    const foreign = await call('/api/agents', { ...browser, origin: 'https://evil.example', body: agent('gw-csrf-2') });
    expect(foreign.status).toBe(403);
    expect(foreign.json.error.message).toMatch(/evil\.example/);
    expect((await call('/api/agents', { ...browser, origin: 'null', body: agent('gw-csrf-2') })).status).toBe(403);
    expect((await call('/api/agents', { ...browser, origin: hub.url, body: agent('gw-csrf-2') })).status).toBe(201);
    // Logging in and out from another site is refused too.
    expect((await call('/api/session', { method: 'DELETE', ...browser, origin: 'https://evil.example' })).status).toBe(403);
    expect((await call('/api/session', { cookie: browser.cookie })).status).toBe(200);
    const forgedLogin = await call('/api/session', { origin: 'https://evil.example', body: { username: 'alice', password: 'alice-password-1' } });
    expect(forgedLogin.status).toBe(403);
  });

  it('exempts bearer-token requests: they carry no ambient credentials', async () => {
    expect((await call('/api/agents', { token: adminToken, origin: 'https://elsewhere.example', body: agent('gw-csrf-3') })).status).toBe(201);
  });
});

describe('roles of web users', () => {
  const episode: Episode = {
    id: 'gw-web:pump:1700000000000',
    revision: 1,
    agent: 'gw-web',
    model: 'pump',
    version: '1.0.0',
    start: 1_700_000_000_000,
    end: null,
    state: 'open',
    peakScore: 3,
    meanScore: 2,
    windows: 2,
    topTags: [{ tag: 'flow', share: 1 }],
    thresholds: { warn: 1, alarm: 2 },
    snapshot: [],
  };
  const resolution = `/api/episodes/${encodeURIComponent(episode.id)}/resolution`;

  it('lets a viewer read but not resolve (403); an operator resolves, recorded with the user name, but may not deploy or add agents (403)', async () => {
    await hub.storage.ingest('gw-web', 'e1', 'episodes', [{ seq: 1, at: episode.start, body: episode }], Date.now());
    const viewer = await login('victor', 'victor-password-1');
    expect((await call('/api/episodes', { cookie: viewer.cookie })).json.episodes).toHaveLength(1);
    const refused = await call(resolution, { ...viewer, body: { label: 'normal' } });
    expect(refused.status).toBe(403);
    expect(refused.json.error.message).toMatch(/needs the operator role; the user "victor" is viewer/);

    const operator = await login('olga', 'olga-password-1');
    // With a valid session and CSRF token: the role is what refuses, and nothing is created.
    const deploy = await call('/api/deployments', { ...operator, body: { model: 'pump', version: '1.0.0', agents: ['gw-web'] } });
    expect(deploy.status).toBe(403);
    expect(deploy.json.error).toMatchObject({ code: 'VIGIL_API_FORBIDDEN', message: expect.stringMatching(/needs the admin role; the user "olga" is operator/) });
    expect(await hub.storage.listDeployments({})).toEqual([]);
    const addAgent = await call('/api/agents', { ...operator, body: { id: 'gw-by-operator' } });
    expect(addAgent.status).toBe(403);
    expect(addAgent.json.error.code).toBe('VIGIL_API_FORBIDDEN');
    expect(await hub.storage.getAgent('gw-by-operator')).toBeUndefined();

    const resolved = await call(resolution, { ...operator, body: { label: 'real', cause: 'seal leak' } });
    expect(resolved.status).toBe(200);
    expect(resolved.json.resolution).toMatchObject({ label: 'real', cause: 'seal leak', by: 'olga' });
    expect((await hub.storage.getEpisode(episode.id))?.resolution).toMatchObject({ label: 'real', cause: 'seal leak', by: 'olga' });
  });

  it('keeps the users API for admins; scrypt hashes; role changes, new passwords and disabling apply at once', async () => {
    const operator = await login('olga', 'olga-password-1');
    expect((await call('/api/users', { cookie: operator.cookie })).status).toBe(403);
    expect((await call('/api/users', { ...operator, body: { name: 'x', role: 'admin', password: 'long-enough-pass' } })).status).toBe(403);

    const admin = await login('alice', 'alice-password-1');
    const short = await call('/api/users', { ...admin, body: { name: 'paul', role: 'viewer', password: 'too-short' } });
    expect(short.status).toBe(400);
    expect(short.json.error.message).toMatch(/^password: must be at least 12 characters/);
    expect((await call('/api/users', { ...admin, body: { name: 'no spaces', role: 'viewer', password: 'paul-password-1' } })).status).toBe(400);
    const created = await call('/api/users', { ...admin, body: { name: 'paul', role: 'viewer', password: 'paul-password-1' } });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({ name: 'paul', role: 'viewer', createdAt: expect.any(Number), disabled: false });
    expect((await call('/api/users', { ...admin, body: { name: 'paul', role: 'viewer', password: 'paul-password-1' } })).status).toBe(409);
    expect((await hub.storage.getUser('paul'))?.passwordHash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);

    const list = await call('/api/users', { cookie: admin.cookie });
    expect(list.json.users.map((u: { name: string }) => u.name)).toEqual(['alice', 'brute', 'olga', 'paul', 'victor']);
    expect(JSON.stringify(list.json)).not.toMatch(/scrypt|password/);

    const paul = await login('paul', 'paul-password-1');
    expect((await call('/api/users', { cookie: paul.cookie })).status).toBe(403);
    expect((await call('/api/users/paul', { ...admin, method: 'PUT', body: { role: 'admin' } })).json).toMatchObject({ role: 'admin' });
    expect((await call('/api/users', { cookie: paul.cookie })).status).toBe(200);

    expect((await call('/api/users/paul', { ...admin, method: 'PUT', body: { password: 'paul-password-2' } })).status).toBe(200);
    expect((await call('/api/users', { cookie: paul.cookie })).status).toBe(401);
    // (From an address of its own: 127.0.0.1 must stay below the failure limit for the logins of the other tests.)
    expect((await loginFrom('127.0.0.6', 'paul', 'paul-password-1')).status).toBe(401);
    const again = await login('paul', 'paul-password-2');
    expect((await call('/api/users/paul', { ...admin, method: 'PUT', body: { disabled: true } })).json).toMatchObject({ disabled: true });
    expect((await call('/api/me', { cookie: again.cookie })).status).toBe(401);
    const disabled = await call('/api/session', { body: { username: 'paul', password: 'paul-password-2' } });
    expect(disabled.status).toBe(401);
    expect(disabled.json.error.message).toMatch(/disabled/);

    expect((await call('/api/users/paul', { ...admin, method: 'PUT', body: {} })).status).toBe(400);
    expect((await call('/api/users/paul', { ...admin, method: 'DELETE' })).status).toBe(200);
    expect((await call('/api/users/paul', { ...admin, method: 'DELETE' })).status).toBe(404);
    expect((await call('/api/users/nobody', { ...admin, method: 'PUT', body: { role: 'viewer' } })).status).toBe(404);
  });

  it('never removes, demotes or disables the last enabled admin', async () => {
    const admin = await login('alice', 'alice-password-1');
    for (const [method, body] of [['DELETE', undefined], ['PUT', { role: 'operator' }], ['PUT', { disabled: true }]] as const) {
      const refused = await call('/api/users/alice', { ...admin, method, body });
      expect(refused.status).toBe(409);
      expect(refused.json.error.message).toMatch(/only enabled admin/);
    }
    expect(await hub.storage.getUser('alice')).toMatchObject({ role: 'admin', disabled: false });
  });

  it('manages users from the command line beside the running hub: list, role, passwd, remove', async () => {
    // One at a time, as a person types them (see tests/helpers/hub-process.ts on concurrent admin commands).
    const list = await runVigil(['hub', 'users', 'list', '--config', configFile]);
    const lastAdmin = await runVigil(['hub', 'users', 'remove', 'alice', '--config', configFile]);
    expect(list.stdout).toMatch(/^NAME\s+ROLE\s+CREATED\s+STATE$/m);
    expect(list.stdout).toMatch(/^victor\s+viewer\s+\S+Z\s+enabled$/m);
    expect(lastAdmin.code).toBe(1);
    expect(lastAdmin.stderr).toMatch(/only enabled admin/);

    expect((await runVigil(['hub', 'users', 'role', 'victor', 'operator', '--config', configFile])).code).toBe(0);
    const victor = await login('victor', 'victor-password-1');
    expect((await call('/api/me', { cookie: victor.cookie })).json).toMatchObject({ role: 'operator' });

    expect(await sessionOf(victor)).toBeDefined();
    const passwd = spawnVigil(['hub', 'users', 'passwd', 'victor', '--password-env', 'NEW_PW', '--config', configFile], { NEW_PW: 'victor-password-2' });
    expect(await passwd.exited, passwd.stderr()).toBe(0);
    // The CLI took a second or two: look at the stored session, not the (idle-limited) cookie.
    expect(await sessionOf(victor)).toBeUndefined();
    expect((await call('/api/session', { body: { username: 'victor', password: 'victor-password-2' } })).status).toBe(200);

    expect((await runVigil(['hub', 'users', 'remove', 'victor', '--config', configFile])).code).toBe(0);
    expect(await hub.storage.getUser('victor')).toBeUndefined();
  });
});

describe('causes', () => {
  it('lets anyone read the list and only admins replace it', async () => {
    const operator = await login('olga', 'olga-password-1');
    expect((await call('/api/causes', { cookie: operator.cookie })).json).toEqual({ causes: [] });
    expect((await call('/api/causes', { ...operator, method: 'PUT', body: { causes: ['x'] } })).status).toBe(403);
    const admin = await login('alice', 'alice-password-1');
    const put = await call('/api/causes', { ...admin, method: 'PUT', body: { causes: [' bearing wear ', 'seal leak', 'bearing wear', 'cavitation'] } });
    expect(put.status).toBe(200);
    expect(put.json).toEqual({ causes: ['bearing wear', 'seal leak', 'cavitation'] });
    expect((await call('/api/causes', { cookie: operator.cookie })).json).toEqual({ causes: ['bearing wear', 'seal leak', 'cavitation'] });
    expect((await call('/api/causes', { ...admin, method: 'PUT', body: { causes: [''] } })).status).toBe(400);
    expect((await call('/api/causes', { ...admin, method: 'PUT', body: { causes: 'x' } })).status).toBe(400);
  });
});
