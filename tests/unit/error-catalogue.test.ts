import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../shared/errors.js';

const ROOT = new URL('../../', import.meta.url).pathname;
/** Environment variables share the VIGIL_ prefix but are not error codes. */
const ENVIRONMENT_VARIABLES = new Set(['VIGIL_VERSION', 'VIGIL_OPCUA_DEBUG', 'VIGIL_LOG_LEVEL', 'VIGIL_CONFIG', 'VIGIL_HUB_CONFIG', 'VIGIL_HUB_URL', 'VIGIL_HUB_TOKEN']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

describe('error code catalogue', () => {
  const used = new Set<string>();
  for (const file of [...sourceFiles(join(ROOT, 'agent')), ...sourceFiles(join(ROOT, 'cloud-sync')), ...sourceFiles(join(ROOT, 'shared'))]) {
    if (file.endsWith('shared/errors.ts')) continue;
    for (const m of readFileSync(file, 'utf8').matchAll(/VIGIL_[A-Z_]+/g)) used.add(m[0]);
  }

  it('every code used in the code is in the catalogue, and every catalogued code is used', () => {
    const catalogued = new Set(Object.keys(ERROR_CODES));
    const unknown = [...used].filter((c) => !catalogued.has(c) && !ENVIRONMENT_VARIABLES.has(c));
    expect(unknown).toEqual([]);
    expect([...catalogued].filter((c) => !used.has(c))).toEqual([]);
  });

  it('the README documents every code with its catalogue text', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const [code, meaning] of Object.entries(ERROR_CODES)) expect(readme).toContain(`| \`${code}\` | ${meaning} |`);
  });
});
