import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `<repo>/dist/web`, where `npm run build:web` puts the web app. Found from
 * this module's own place (the folder holding package.json above it), so it
 * is the same whether the hub runs from source (tsx) or from dist/, and
 * whatever the working directory.
 */
export function defaultWebDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return join(dir, 'dist', 'web');
}
