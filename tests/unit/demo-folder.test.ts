import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_MARKER, resetDemoFolder } from '../../agent/demo/demo-folder.js';

const work = mkdtempSync(join(tmpdir(), 'vigil-demo-folder-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('resetDemoFolder: the demo deletes only a folder it made', () => {
  it('makes a missing folder, and marks it', () => {
    const dir = join(work, 'missing', 'deeper');
    expect(resetDemoFolder(dir)).toBeUndefined();
    expect(readdirSync(dir)).toEqual([DEMO_MARKER]);
  });

  it('uses an empty folder, and marks it', () => {
    const dir = join(work, 'empty');
    mkdirSync(dir);
    expect(resetDemoFolder(dir)).toBeUndefined();
    expect(readdirSync(dir)).toEqual([DEMO_MARKER]);
  });

  it('empties a folder an earlier demo made', () => {
    const dir = join(work, 'earlier');
    expect(resetDemoFolder(dir)).toBeUndefined();
    mkdirSync(join(dir, 'state'));
    writeFileSync(join(dir, 'state', 'data.mdb'), 'x');
    writeFileSync(join(dir, 'agent.yaml'), 'x');
    expect(resetDemoFolder(dir)).toBeUndefined();
    expect(readdirSync(dir)).toEqual([DEMO_MARKER]);
  });

  it('refuses a non-empty folder without the marker, naming it, and leaves it as it was', () => {
    const dir = join(work, 'someone-elses');
    mkdirSync(join(dir, 'photos'), { recursive: true });
    writeFileSync(join(dir, 'notes.txt'), 'keep me');
    const refused = resetDemoFolder(dir);
    expect(refused).toBe(`${dir} is not empty and was not made by vigil demo (it has no ${DEMO_MARKER} file), so it is not deleted; give --data a new or empty folder, or delete this one yourself`);
    expect(readdirSync(dir).sort()).toEqual(['notes.txt', 'photos']);
  });

  it('empties a folder a demo made before the marker existed (its agent.yaml says so)', () => {
    const dir = join(work, 'older-demo');
    mkdirSync(join(dir, 'state'), { recursive: true });
    writeFileSync(join(dir, 'agent.yaml'), '# Written by `vigil demo`. Edit config/agent.example.yaml for a real plant.\nagent:\n');
    expect(resetDemoFolder(dir)).toBeUndefined();
    expect(readdirSync(dir)).toEqual([DEMO_MARKER]);
  });

  it('refuses a folder whose agent.yaml someone else wrote', () => {
    const dir = join(work, 'real-config');
    mkdirSync(dir);
    writeFileSync(join(dir, 'agent.yaml'), 'agent:\n  id: line-3\n');
    expect(resetDemoFolder(dir)).toMatch(/is not empty and was not made by vigil demo/);
    expect(readdirSync(dir)).toEqual(['agent.yaml']);
  });

  it('refuses a file', () => {
    const file = join(work, 'a-file');
    writeFileSync(file, 'keep me');
    expect(resetDemoFolder(file)).toBe(`${file} is not a folder; give --data a folder for the demo's files`);
    expect(existsSync(file)).toBe(true);
  });
});
