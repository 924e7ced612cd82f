import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GRACEFUL_STOP_MS } from '../../agent/service/signals.js';

const UNITS = ['vigil-agent.service', 'vigil-hub.service'];
const unitText = (name: string) => readFileSync(new URL(`../../systemd/${name}`, import.meta.url), 'utf8');

/** A unit file as sections of key → values (a key may repeat), the way systemd reads it: comments and blank lines out. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const section = /^\[([A-Za-z]+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      return;
    }
    const assignment = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (!assignment || !current) throw new Error(`line ${i + 1} is neither a section nor Key=value: ${raw}`);
    current.set(assignment[1]!, [...(current.get(assignment[1]!) ?? []), assignment[2]!]);
  });
  return sections;
}

const analyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'vigil-units-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('systemd units', () => {
  for (const name of UNITS) {
    it(`${name}: Type=notify with a watchdog, a dedicated user, state and configuration folders, hardening without MemoryDenyWriteExecute`, () => {
      const unit = parseUnit(unitText(name));
      expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
      const service = unit.get('Service')!;
      const one = (key: string) => {
        expect(service.get(key), key).toHaveLength(1);
        return service.get(key)![0]!;
      };
      expect(one('Type')).toBe('notify');
      // The notifications come from systemd-notify children, not the main pid.
      expect(one('NotifyAccess')).toBe('all');
      expect(Number(one('WatchdogSec'))).toBe(30);
      expect(one('Restart')).toBe('on-failure');
      expect(one('User')).toBe('vigil');
      expect(one('Group')).toBe('vigil');
      expect(one('StateDirectory')).toMatch(/^vigil\/(agent|hub)$/);
      expect(one('ConfigurationDirectory')).toBe('vigil');
      expect(one('ProtectSystem')).toBe('strict');
      expect(one('ProtectHome')).toBe('yes');
      expect(one('NoNewPrivileges')).toBe('yes');
      expect(one('PrivateTmp')).toBe('yes');
      expect(service.has('MemoryDenyWriteExecute')).toBe(false);
      // systemd's SIGKILL comes only after the agent's own bounded stop.
      expect(Number(one('TimeoutStopSec')) * 1000).toBeGreaterThan(GRACEFUL_STOP_MS);
      const role = name === 'vigil-agent.service' ? 'agent' : 'hub';
      expect(one('ExecStart')).toBe(`/usr/bin/node /opt/vigil/bin/vigil.js ${role} --config /etc/vigil/${role}.yaml`);
      expect(one('WorkingDirectory')).toBe(`/var/lib/vigil/${role}`);
      // The agent reloads on SIGHUP; the hub reads its file once.
      if (role === 'agent') expect(one('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
      else expect(service.has('ExecReload')).toBe(false);
      expect(unit.get('Install')!.get('WantedBy')).toEqual(['multi-user.target']);
    });
  }

  // Where systemd-analyze is installed (Debian's systemd package) it checks every key and value.
  it.skipIf(!analyze)('systemd-analyze verify accepts both units without a warning', () => {
    const files = UNITS.map((name) => {
      // The node of this machine, wherever it is: verify checks that ExecStart's program exists.
      const file = join(dir, name);
      writeFileSync(file, unitText(name).replace('/usr/bin/node ', `${process.execPath} `));
      return file;
    });
    const result = spawnSync('systemd-analyze', ['verify', ...files], { encoding: 'utf8' });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    // A wrong value is only a warning (exit status 0): hence the empty stderr above.
    const broken = join(dir, 'broken.service');
    writeFileSync(broken, unitText(UNITS[0]!).replace('Type=notify', 'Type=notifyy').replace('/usr/bin/node ', `${process.execPath} `));
    expect(spawnSync('systemd-analyze', ['verify', broken], { encoding: 'utf8' }).stderr).toMatch(/Failed to parse service type/);
  });
});
