import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnVigil, type VigilProcess } from './agent-process.js';

export interface HubProcessOptions {
  /** Extra `sync:` keys (short timeouts for liveness tests). */
  sync?: Record<string, number>;
  tls?: { certFile: string; keyFile: string };
  /** Reuse a folder (restart on the same data); default a new temp folder, removed by stop(). */
  dir?: string;
  /** hub.id (a replica's name). Default test-hub. */
  id?: string;
  /** PostgreSQL storage (a replica) instead of LMDB. */
  postgres?: { url: string; schema?: string };
  /** Extra top-level YAML lines (e.g. a digest section). */
  extraYaml?: string[];
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface HubProcess {
  process: VigilProcess;
  /** http(s)://127.0.0.1:<port> */
  url: string;
  /** ws(s)://127.0.0.1:<port>/sync */
  syncUrl: string;
  dir: string;
  configFile: string;
  /** Runs `vigil hub agents add` and returns the token it printed. */
  addAgent(id: string, labels?: Record<string, string>): Promise<string>;
  /** Runs `vigil hub tokens add` and returns the API token it printed. */
  addApiToken(name: string, role: 'viewer' | 'operator' | 'admin'): Promise<string>;
  /** Any `vigil hub …` admin command against this hub's configuration (one at a time, see below). */
  cli(args: string[]): Promise<RunResult>;
  /** Queues `command` (anything that opens the hub's store from another process) behind the admin commands already queued. */
  admin<T>(command: () => Promise<T>): Promise<T>;
  /** Stops the hub (SIGTERM) and, unless `keepDir`, removes its folder. */
  stop(keepDir?: boolean): Promise<void>;
}

/** Runs `vigil …` to completion. */
export async function runVigil(args: string[]): Promise<RunResult> {
  const child = spawnVigil(args);
  const code = await child.exited;
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

/** Writes a hub.yaml (127.0.0.1, a free port) in a temp folder and starts a real `vigil hub` on it. */
export async function startHubProcess(options: HubProcessOptions = {}): Promise<HubProcess> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'vigil-hub-'));
  const configFile = join(dir, 'hub.yaml');
  const lines = ['hub:', `  id: ${options.id ?? 'test-hub'}`, '  dataDir: ./data', 'http:', '  host: 127.0.0.1', '  port: 0'];
  if (options.tls) lines.push('  tls:', `    certFile: ${options.tls.certFile}`, `    keyFile: ${options.tls.keyFile}`);
  if (options.sync) lines.push('sync:', ...Object.entries(options.sync).map(([k, v]) => `  ${k}: ${v}`));
  if (options.postgres) lines.push('storage:', '  type: postgres', `  url: "${options.postgres.url}"`, `  schema: ${options.postgres.schema ?? 'vigil'}`);
  if (options.extraYaml) lines.push(...options.extraYaml);
  writeFileSync(configFile, lines.join('\n') + '\n');

  const child = spawnVigil(['hub', '--config', configFile]);
  let running;
  try {
    running = await child.waitForLog('hub running');
  } catch (err) {
    child.child.kill('SIGKILL');
    throw err;
  }
  const url = String(running.url);
  // Admin commands run one at a time, as a person types them. Each opens the
  // hub's LMDB store from its own process; with lmdb-js 3.5 an opening while
  // another process writes can, rarely, cost that writer an acknowledged
  // write (see cloud-sync/storage/README.md, "Admin commands beside a running
  // hub"), and three concurrent `tokens add` once lost a token in CI.
  let adminQueue: Promise<unknown> = Promise.resolve();
  const admin = <T>(command: () => Promise<T>): Promise<T> => {
    const result = adminQueue.then(command);
    adminQueue = result.catch(() => undefined);
    return result;
  };
  const cli = (args: string[]): Promise<RunResult> => admin(() => runVigil(['hub', ...args, '--config', configFile]));
  const printedToken = async (args: string[], pattern: RegExp) => {
    const result = await cli(args);
    const token = pattern.exec(result.stdout)?.[0];
    if (result.code !== 0 || !token) throw new Error(`vigil hub ${args.join(' ')} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
    return token;
  };
  return {
    process: child,
    url,
    syncUrl: `${url.replace(/^http/, 'ws')}/sync`,
    dir,
    configFile,
    addAgent: (id, labels = {}) =>
      printedToken(['agents', 'add', id, ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`])], /vga_[A-Za-z0-9_-]{43}/),
    addApiToken: (name, role) => printedToken(['tokens', 'add', name, '--role', role], /vgt_[0-9a-f]{12}\.[A-Za-z0-9_-]{43}/),
    cli,
    admin,
    stop: async (keepDir = false) => {
      if (child.child.exitCode === null) {
        child.child.kill('SIGTERM');
        const timer = setTimeout(() => child.child.kill('SIGKILL'), 10_000);
        await child.exited;
        clearTimeout(timer);
      }
      if (!keepDir && !options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ApiResult {
  status: number;
  json: any;
  text: string;
}

/** A request to the hub's API with an optional bearer token; JSON in, JSON (or text) out. */
export async function api(hubUrl: string, path: string, options: { token?: string; method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<ApiResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(hubUrl + path, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}
