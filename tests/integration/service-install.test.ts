import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConfig } from '../../agent/config/load.js';
import { loadHubConfig } from '../../cloud-sync/config/load-hub-config.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const INSTALL = join(ROOT, 'systemd', 'install.sh');
const work = mkdtempSync(join(tmpdir(), 'vigil-install-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * A built checkout in miniature: the real bin/, config/ and systemd/ folders,
 * a stand-in dist/, and a node_modules with one production and one
 * development dependency (so pruning shows), small enough to copy quickly.
 */
function fakeBuild(name: string, options: { web?: boolean; dist?: boolean } = {}): string {
  const from = join(work, name);
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(from, path)), { recursive: true });
    writeFileSync(join(from, path), text);
  };
  for (const folder of ['bin', 'config', 'systemd']) cpSync(join(ROOT, folder), join(from, folder), { recursive: true });
  if (options.dist !== false) write('dist/agent/cli/main.js', "console.log('vigil build 1');\n");
  if (options.web !== false) write('dist/web/index.html', '<!doctype html><title>Vigil</title>\n');
  write('package.json', JSON.stringify({ name: 'vigil', version: '0.0.0', type: 'module', dependencies: { prodlib: '1.0.0' }, devDependencies: { devtool: '1.0.0' } }));
  write(
    'package-lock.json',
    JSON.stringify({
      name: 'vigil',
      version: '0.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'vigil', version: '0.0.0', dependencies: { prodlib: '1.0.0' }, devDependencies: { devtool: '1.0.0' } },
        'node_modules/prodlib': { version: '1.0.0' },
        'node_modules/devtool': { version: '1.0.0', dev: true },
      },
    }),
  );
  write('node_modules/prodlib/package.json', JSON.stringify({ name: 'prodlib', version: '1.0.0' }));
  write('node_modules/devtool/package.json', JSON.stringify({ name: 'devtool', version: '1.0.0' }));
  return from;
}

function install(args: string[]) {
  const result = spawnSync('bash', [INSTALL, ...args], { encoding: 'utf8', env: { ...process.env, DESTDIR: '' } });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

describe('systemd/install.sh (staged with --destdir, never touching this system)', () => {
  let from: string;
  let dest: string;
  beforeAll(() => {
    from = fakeBuild('build');
    dest = join(work, 'root');
  });

  it('installs the agent: program with production dependencies only, command link, configuration for the service layout, unit', async () => {
    const run = install(['agent', '--from', from, '--destdir', dest]);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    const opt = join(dest, 'opt/vigil');
    expect(readFileSync(join(opt, 'dist/agent/cli/main.js'), 'utf8')).toContain('vigil build 1');
    expect(existsSync(join(opt, 'node_modules/prodlib/package.json'))).toBe(true);
    expect(existsSync(join(opt, 'node_modules/devtool'))).toBe(false);
    expect(readlinkSync(join(dest, 'usr/local/bin/vigil'))).toBe('/opt/vigil/bin/vigil.js');

    const unit = readFileSync(join(dest, 'etc/systemd/system/vigil-agent.service'), 'utf8');
    const node = spawnSync('bash', ['-c', 'command -v node'], { encoding: 'utf8' }).stdout.trim();
    expect(unit).toContain(`ExecStart=${node} /opt/vigil/bin/vigil.js agent --config /etc/vigil/agent.yaml`);

    // The example, adapted: state in the service's state folder, valid as it is (secrets are only warnings).
    const agentYaml = join(dest, 'etc/vigil/agent.yaml');
    expect(readFileSync(agentYaml, 'utf8')).toMatch(/^ {2}dataDir: \/var\/lib\/vigil\/agent$/m);
    const checked = await checkConfig(agentYaml);
    expect(checked.issues.filter((i) => i.severity !== 'warning')).toEqual([]);
    expect(checked.config?.agent.dataDir).toBe('/var/lib/vigil/agent');
    expect(checked.config?.models.dir).toBe('/var/lib/vigil/agent/models');
    expect(existsSync(join(dest, 'etc/vigil/schema/agent.schema.json'))).toBe(true);
    expect(existsSync(join(dest, 'etc/vigil/secrets'))).toBe(true);
    expect(existsSync(join(dest, 'var/lib/vigil/agent'))).toBe(true);

    expect(run.out).toContain('skipped (staged install): creating the system user vigil');
    expect(run.out).toContain('skipped: systemctl daemon-reload (staged install)');
    expect(run.out).toMatch(/Next steps:[\s\S]*vigil check \/etc\/vigil\/agent\.yaml[\s\S]*systemctl enable --now vigil-agent\.service[\s\S]*journalctl -u vigil-agent\.service/);
  });

  it('runs again: updates the program, keeps the configuration, leaves nothing behind', () => {
    const agentYaml = join(dest, 'etc/vigil/agent.yaml');
    writeFileSync(agentYaml, readFileSync(agentYaml, 'utf8') + '# edited on the gateway\n');
    writeFileSync(join(from, 'dist/agent/cli/main.js'), "console.log('vigil build 2');\n");
    const run = install(['agent', '--from', from, '--destdir', dest]);
    expect(run.code).toBe(0);
    expect(run.out).toContain('kept /etc/vigil/agent.yaml (it exists)');
    expect(readFileSync(agentYaml, 'utf8')).toContain('# edited on the gateway');
    expect(readFileSync(join(dest, 'opt/vigil/dist/agent/cli/main.js'), 'utf8')).toContain('vigil build 2');
    expect(readdirSync(join(dest, 'opt'))).toEqual(['vigil']);
  });

  it('installs the hub beside it: hub.yaml with its state folder, its unit', async () => {
    const run = install(['hub', '--from', from, '--destdir', dest]);
    expect(run.code).toBe(0);
    const hub = await loadHubConfig(join(dest, 'etc/vigil/hub.yaml'));
    expect(hub.hub.dataDir).toBe('/var/lib/vigil/hub');
    expect(readFileSync(join(dest, 'etc/systemd/system/vigil-hub.service'), 'utf8')).toContain('/opt/vigil/bin/vigil.js hub --config /etc/vigil/hub.yaml');
    expect(readFileSync(join(dest, 'etc/vigil/agent.yaml'), 'utf8')).toContain('# edited on the gateway');
    expect(run.out).toContain('vigil hub agents add');
  });

  it('--prefix puts the program elsewhere and the unit follows', () => {
    const other = join(work, 'root-prefix');
    const run = install(['agent', '--from', from, '--destdir', other, '--prefix', '/srv/vigil']);
    expect(run.code).toBe(0);
    expect(existsSync(join(other, 'srv/vigil/bin/vigil.js'))).toBe(true);
    expect(readFileSync(join(other, 'etc/systemd/system/vigil-agent.service'), 'utf8')).toMatch(/^ExecStart=\S+ \/srv\/vigil\/bin\/vigil\.js agent /m);
  });

  it('--dry-run prints every step and changes nothing', () => {
    const untouched = join(work, 'root-dry');
    const run = install(['agent', '--from', from, '--destdir', untouched, '--dry-run']);
    expect(run.code).toBe(0);
    expect(run.out).toContain('nothing is changed');
    expect(run.out).toMatch(/would run: cp -a .*node_modules/);
    expect(run.out).toContain('npm prune --omit=dev');
    expect(run.out).toContain('would write: /etc/vigil/agent.yaml');
    expect(run.out).toContain('would write: /etc/systemd/system/vigil-agent.service');
    expect(existsSync(untouched)).toBe(false);
  });

  it('--dry-run without --destdir (no root needed) prints the system steps: user, ownership and modes of /etc/vigil, daemon-reload — and changes nothing', () => {
    const systemPaths = ['/opt/vigil', '/etc/vigil', '/var/lib/vigil', '/usr/local/bin/vigil', '/etc/systemd/system/vigil-agent.service'];
    const before = systemPaths.map((p) => existsSync(p));
    const run = install(['agent', '--from', from, '--dry-run']);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toContain('Dry run: installing the Vigil agent from');
    expect(run.out).toContain('into /opt/vigil would take these steps (nothing is changed):');
    const lines = run.out.split('\n');
    const at = (line: string) => {
      const i = lines.indexOf(line);
      expect(i, `"${line}" in:\n${run.out}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    // The user exists on a machine where Vigil was installed before; else it is created first.
    const userExists = spawnSync('getent', ['passwd', 'vigil']).status === 0;
    const user = at(userExists ? 'user vigil exists' : 'would run: useradd --system --user-group --home-dir /var/lib/vigil --no-create-home --shell /usr/sbin/nologin --comment Vigil agent and hub vigil');
    const folders = at('would run: mkdir -p /etc/vigil/secrets /var/lib/vigil/agent');
    const owner = at('would run: chown root:vigil /etc/vigil /etc/vigil/secrets');
    const mode = at('would run: chmod 0750 /etc/vigil /etc/vigil/secrets');
    at('would run: chown vigil:vigil /var/lib/vigil /var/lib/vigil/agent');
    at('would run: chmod 0750 /var/lib/vigil /var/lib/vigil/agent');
    expect(user).toBeLessThan(folders);
    expect(folders).toBeLessThan(owner);
    expect(owner).toBeLessThan(mode);
    at('would run: ln -sfn /opt/vigil/bin/vigil.js /usr/local/bin/vigil');
    const node = spawnSync('bash', ['-c', 'command -v node'], { encoding: 'utf8' }).stdout.trim();
    const unit = at(`would write: /etc/systemd/system/vigil-agent.service (node at ${node}, program in /opt/vigil)`);
    // daemon-reload where systemd runs (as PID 1 it creates /run/systemd/system); a container says why it skips it.
    const systemd = existsSync('/run/systemd/system') && spawnSync('bash', ['-c', 'command -v systemctl']).status === 0;
    expect(at(systemd ? 'would run: systemctl daemon-reload' : 'skipped: systemctl daemon-reload (systemd is not running here)')).toBeGreaterThan(unit);
    expect(run.out).not.toContain('staged install');
    expect(systemPaths.map((p) => existsSync(p))).toEqual(before);
  });

  it('refuses an unbuilt checkout, and a hub without its web app, saying what to run', () => {
    const unbuilt = install(['agent', '--from', fakeBuild('unbuilt', { dist: false }), '--destdir', join(work, 'x'), '--dry-run']);
    expect(unbuilt.code).toBe(1);
    expect(unbuilt.err).toMatch(/dist is missing or incomplete; build first: \(cd .* && npm ci\)/);
    const noWeb = install(['hub', '--from', fakeBuild('noweb', { web: false }), '--destdir', join(work, 'y'), '--dry-run']);
    expect(noWeb.code).toBe(1);
    expect(noWeb.err).toContain("the hub's web app");
    expect(install(['gateway']).code).toBe(2);
  });
});
