import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_MARKER } from '../../agent/demo/demo-folder.js';
import { spawnVigil } from '../helpers/agent-process.js';

const work = mkdtempSync(join(tmpdir(), 'vigil-demo-data-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const demo = (data: string) => spawnVigil(['demo', '--duration', '1', '--port', '0', '--hub-port', '0', '--data', data]);

/** `vigil demo --data DIR` deletes DIR only when an earlier demo made it. */
describe('vigil demo --data (real command)', () => {
  it('refuses a non-empty folder it did not make: exit 1, the folder named, nothing deleted or started', async () => {
    const dir = join(work, 'plant-docs');
    mkdirSync(dir);
    writeFileSync(join(dir, 'pump-curves.csv'), 'flow,head\n');
    const run = demo(dir);
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toBe(`vigil demo: ${dir} is not empty and was not made by vigil demo (it has no ${DEMO_MARKER} file), so it is not deleted; give --data a new or empty folder, or delete this one yourself\n`);
    expect(readdirSync(dir)).toEqual(['pump-curves.csv']);
    expect(readFileSync(join(dir, 'pump-curves.csv'), 'utf8')).toBe('flow,head\n');
    expect(run.stdout()).not.toContain('Vigil demo is running');
  }, 30_000);

  it('marks the folder it makes, and starts afresh in it the next time', async () => {
    const dir = join(work, 'demo');
    const first = demo(dir);
    expect(await first.exited, first.stderr()).toBe(0);
    expect(existsSync(join(dir, DEMO_MARKER))).toBe(true);
    expect(existsSync(join(dir, 'agent.yaml'))).toBe(true);
    writeFileSync(join(dir, 'left-over.txt'), 'from the first run');

    const second = demo(dir);
    expect(await second.exited, second.stderr()).toBe(0);
    expect(second.stdout()).toContain('Vigil demo is running');
    expect(existsSync(join(dir, 'left-over.txt'))).toBe(false);
    expect(existsSync(join(dir, DEMO_MARKER))).toBe(true);
    expect(existsSync(join(dir, 'agent.yaml'))).toBe(true);
  }, 60_000);
});
