import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiToken } from '../../cloud-sync/auth/api-token-issue.js';
import type { HubConfig } from '../../cloud-sync/config/hub-config-schema.js';
import { startHub, type RunningHub } from '../../cloud-sync/start-hub.js';
import { createUser } from '../../cloud-sync/users/user-accounts.js';
import { defaultWebDir } from '../../cloud-sync/web-serving/web-dir.js';
import { silentLogger } from '../../shared/logger.js';

/**
 * The hub serving the built web app (a stand-in build in a temp folder):
 * files, caching, the index.html fallback, 503 when not built, the security
 * headers on every response, and the Secure cookie over TLS.
 */

const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'";
const INDEX = '<!doctype html><title>Vigil</title><script type="module" src="/assets/app-K3J5ZQ2A.js"></script>';

let root: string;
const hubs: RunningHub[] = [];

function config(name: string, extra: Partial<HubConfig> = {}): HubConfig {
  return {
    file: join(root, `${name}.yaml`),
    hub: { id: name, dataDir: join(root, name) },
    http: { host: '127.0.0.1', port: 0, maxBodyBytes: 1024 * 1024 },
    storage: { type: 'lmdb' },
    sync: { heartbeatMs: 10_000, offlineAfterMs: 35_000, maxSkewMs: 5000, maxQueuedBatches: 8 },
    log: { level: 'error' },
    ...extra,
  };
}

async function hubServing(name: string, webDir: string, extra: Partial<HubConfig> = {}): Promise<RunningHub> {
  const hub = await startHub(config(name, extra), silentLogger(), { webDir });
  hubs.push(hub);
  return hub;
}

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request with the path sent exactly as written (fetch would normalise `..`). */
function raw(url: string, path: string, options: { method?: string; headers?: Record<string, string>; ca?: Buffer; body?: string } = {}): Promise<Raw> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: options.method ?? 'GET', headers: options.headers, ...(options.ca ? { ca: options.ca } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

function expectSecurityHeaders(response: Raw): void {
  expect(response.headers['content-security-policy']).toBe(CSP);
  expect(response.headers['x-content-type-options']).toBe('nosniff');
  expect(response.headers['referrer-policy']).toBe('same-origin');
  expect(response.headers['x-frame-options']).toBe('DENY');
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'vigil-hub-web-serving-'));
});

afterAll(async () => {
  for (const hub of hubs) await hub.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('the built web app', () => {
  let hub: RunningHub;

  beforeAll(async () => {
    const web = join(root, 'web');
    mkdirSync(join(web, 'assets'), { recursive: true });
    writeFileSync(join(web, 'index.html'), INDEX);
    writeFileSync(join(web, 'assets', 'app-K3J5ZQ2A.js'), 'console.log("vigil")');
    writeFileSync(join(web, 'assets', 'uPlot.min.css'), '.u-wrap{}');
    writeFileSync(join(web, '.env'), 'SECRET=1');
    writeFileSync(join(root, 'secret.txt'), 'do not serve');
    hub = await hubServing('serving', web);
  });

  it('serves index.html at / with no-cache, an ETag and the security headers; 304 when unchanged', async () => {
    const index = await raw(hub.url, '/');
    expect(index.status).toBe(200);
    expect(index.body).toBe(INDEX);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['cache-control']).toBe('no-cache');
    expectSecurityHeaders(index);
    const etag = String(index.headers.etag);
    const again = await raw(hub.url, '/', { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
    const head = await raw(hub.url, '/', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-length']).toBe(String(INDEX.length));
  });

  it('caches hashed assets for a year and revalidates unhashed ones', async () => {
    const app = await raw(hub.url, '/assets/app-K3J5ZQ2A.js');
    expect(app.status).toBe(200);
    expect(app.body).toBe('console.log("vigil")');
    expect(app.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(app.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expectSecurityHeaders(app);
    const css = await raw(hub.url, '/assets/uPlot.min.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['cache-control']).toBe('no-cache');
  });

  it('answers other non-API paths with index.html, a missing asset with 404, and never leaves the folder', async () => {
    for (const path of ['/fleet', '/episodes/x', '/index.html']) {
      const page = await raw(hub.url, path);
      expect(page.status, path).toBe(200);
      expect(page.body, path).toBe(INDEX);
    }
    expect((await raw(hub.url, '/assets/app-NOPE1234.js')).status).toBe(404);
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/.env', '/%00']) {
      const response = await raw(hub.url, path);
      expect(response.body, path).not.toMatch(/do not serve|SECRET/);
    }
  });

  it('keeps the API as it was, with the security headers and no-store', async () => {
    const health = await raw(hub.url, '/api/health');
    expect(health.status).toBe(200);
    expectSecurityHeaders(health);
    expect(health.headers['cache-control']).toBe('no-store');
    const missing = await raw(hub.url, '/api/nothing-here');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body).error.code).toBe('VIGIL_API_NOT_FOUND');
    expectSecurityHeaders(missing);
    const { token } = await issueApiToken(hub.storage, 'reader', 'viewer');
    const agents = await raw(hub.url, '/api/agents', { headers: { authorization: `Bearer ${token}` } });
    expect(agents.status).toBe(200);
    expectSecurityHeaders(agents);
    expect((await raw(hub.url, '/metrics')).body).toMatch(/vigil_hub_api_requests_total/);
  });
});

describe('before the web app is built', () => {
  it('answers / with 503 and says to run npm run build; the API works; a build shows without a restart', async () => {
    const web = join(root, 'unbuilt');
    const hub = await hubServing('unbuilt', web);
    const page = await raw(hub.url, '/');
    expect(page.status).toBe(503);
    expect(page.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(page.body).toMatch(/npm run build/);
    expectSecurityHeaders(page);
    expect((await raw(hub.url, '/episodes')).status).toBe(503);
    expect((await raw(hub.url, '/api/health')).status).toBe(200);

    mkdirSync(web, { recursive: true });
    writeFileSync(join(web, 'index.html'), INDEX);
    expect((await raw(hub.url, '/')).body).toBe(INDEX);
  });

  it('looks for the build in <repo>/dist/web by default', () => {
    expect(defaultWebDir()).toBe(fileURLToPath(new URL('../../dist/web', import.meta.url)));
  });
});

describe('over TLS', () => {
  it('marks the session cookie Secure', async () => {
    const certFile = join(root, 'hub.crt');
    const keyFile = join(root, 'hub.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const hub = await hubServing('tls', join(root, 'unbuilt'), { http: { host: '127.0.0.1', port: 0, maxBodyBytes: 1024 * 1024, tls: { certFile, keyFile } } });
    await createUser(hub.storage, 'tess', 'viewer', 'tess-password-1');
    const ca = readFileSync(certFile);
    const login = await raw(hub.url, '/api/session', { method: 'POST', ca, headers: { 'content-type': 'application/json', origin: hub.url }, body: JSON.stringify({ username: 'tess', password: 'tess-password-1' }) });
    expect(login.status).toBe(200);
    const [cookie] = login.headers['set-cookie'] as string[];
    expect(cookie).toMatch(/^vigil_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Secure$/);
    const { csrfToken } = JSON.parse(login.body);
    // The browser's origin is https://<host>: accepted for a logout.
    const out = await raw(hub.url, '/api/session', { method: 'DELETE', ca, headers: { cookie: cookie!.split(';')[0]!, 'x-csrf-token': csrfToken, origin: hub.url } });
    expect(out.status).toBe(200);
    expect((out.headers['set-cookie'] as string[])[0]).toMatch(/Max-Age=0; Secure$/);
  });
});
