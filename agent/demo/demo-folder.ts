import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The file that marks a folder as the demo's own: only such a folder is ever deleted. */
export const DEMO_MARKER = '.vigil-demo-data';

/**
 * Gives the demo a fresh data folder: a missing or empty folder is used, one
 * an earlier demo made (it holds the marker) is deleted and made again. Any
 * other folder is refused and left as it is: `--data` pointed at the wrong
 * place must not delete someone's files. Returns why it was refused, or
 * undefined when the folder is ready.
 */
export function resetDemoFolder(dir: string): string | undefined {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) return `${dir} is not a folder; give --data a folder for the demo's files`;
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes(DEMO_MARKER) && !madeByOlderDemo(dir)) {
      return `${dir} is not empty and was not made by vigil demo (it has no ${DEMO_MARKER} file), so it is not deleted; give --data a new or empty folder, or delete this one yourself`;
    }
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, DEMO_MARKER), 'This folder was made by `vigil demo`. The next `vigil demo` with --data pointing here deletes it and starts afresh.\n');
  return undefined;
}

/** Demos before the marker existed left an agent.yaml that says who wrote it: their folders are the demo's too. */
function madeByOlderDemo(dir: string): boolean {
  try {
    return readFileSync(join(dir, 'agent.yaml'), 'utf8').startsWith('# Written by `vigil demo`.');
  } catch {
    return false;
  }
}
