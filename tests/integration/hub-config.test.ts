import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadHubConfig } from '../../cloud-sync/config/load-hub-config.js';
import { runVigil } from '../helpers/hub-process.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-hub-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function issuesOf(path: string) {
  const err = await loadHubConfig(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).issues.map((i) => ({ line: i.line, path: i.path, message: i.message })).sort((a, b) => a.line - b.line);
}

describe('hub.yaml', () => {
  it('an empty file is a hub on every default, with paths from the file\'s folder', async () => {
    const config = await loadHubConfig(file('empty.yaml', ''));
    expect(config).toMatchObject({
      hub: { id: hostname(), dataDir: join(dir, 'hub-data') },
      http: { host: '0.0.0.0', port: 8720, maxBodyBytes: 64 * 1024 * 1024 },
      storage: { type: 'lmdb' },
      sync: { heartbeatMs: 10_000, offlineAfterMs: 35_000, maxSkewMs: 5000, maxQueuedBatches: 8 },
      log: { level: 'info' },
    });
    expect(config.http.tls).toBeUndefined();
  });

  it('the example configuration is valid as it is, and with its TLS lines switched on', async () => {
    const example = readFileSync(new URL('../../config/hub.example.yaml', import.meta.url), 'utf8');
    const plain = await loadHubConfig(file('example.yaml', example));
    expect(plain.hub).toEqual({ id: 'hub-1', dataDir: join(dir, 'hub-data') });
    expect(plain.http.tls).toBeUndefined();

    mkdirSync(join(dir, 'tls'), { recursive: true });
    file('tls/hub.crt', 'x');
    file('tls/hub.key', 'x');
    const withTls = await loadHubConfig(file('example-tls.yaml', example.replace(/^ {2}# (tls:| {2}certFile: | {2}keyFile: )/gm, '  $1')));
    expect(withTls.http.tls).toEqual({ certFile: join(dir, 'tls/hub.crt'), keyFile: join(dir, 'tls/hub.key') });
  });

  it('names file, line and what to write for each problem', async () => {
    const path = file(
      'bad.yaml',
      ['hub:', '  id: hub-a', 'http:', '  prot: 8721', 'sync:', '  heartbeatMs: fast', 'storage:', '  type: postgress', 'log:', '  level: loud', ''].join('\n'),
    );
    expect(await issuesOf(path)).toEqual([
      { line: 4, path: 'http.prot', message: 'unknown key "prot" in http' },
      { line: 6, path: 'sync.heartbeatMs', message: 'expected a number, found the text "fast"' },
      { line: 8, path: 'storage.type', message: expect.stringMatching(/expected type lmdb or postgres; found "postgress"; did you mean "postgres"\?/) },
      { line: 10, path: 'log.level', message: expect.stringMatching(/expected one of fatal, error, warn, info, debug, trace; found "loud"/) },
    ]);
  });

  it('checks that the timeout outlasts the heartbeat, that TLS files exist, and YAML syntax', async () => {
    expect(await issuesOf(file('timeout.yaml', 'sync:\n  heartbeatMs: 10000\n  offlineAfterMs: 5000\n'))).toEqual([
      { line: 3, path: 'sync.offlineAfterMs', message: expect.stringMatching(/must be longer than heartbeatMs/) },
    ]);
    file('present.key', 'x');
    expect(await issuesOf(file('tls.yaml', 'http:\n  tls:\n    certFile: ./missing.crt\n    keyFile: ./present.key\n'))).toEqual([
      { line: 3, path: 'http.tls.certFile', message: expect.stringMatching(/missing\.crt: the file does not exist/) },
    ]);
    expect(await issuesOf(file('syntax.yaml', 'hub:\n  id: a\n\tdataDir: b\n'))).toEqual([{ line: 3, path: '', message: expect.stringMatching(/YAML syntax error/) }]);
  });

  it('`vigil hub` with a bad file exits 1 and prints file:line', async () => {
    const path = file('process.yaml', 'http:\n  port: 99999\n');
    const result = await runVigil(['hub', '--config', path]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/process\.yaml:2:9 {2}http\.port {2}expected a number of at most 65535; found the number 99999/);
    const missing = await runVigil(['hub', '--config', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/VIGIL_CONFIG_NOT_FOUND.*nope\.yaml/);
  });
});
