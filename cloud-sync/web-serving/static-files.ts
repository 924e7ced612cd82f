import { readFile, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import type { ApiResponse } from '../api/api-route.js';

/**
 * Serves the built web app from one folder (dist/web). The app routes in the
 * URL hash, so the server only needs `/` (index.html) and its files:
 *   existing file              → the file (index.html and unhashed files: no-cache + ETag;
 *                                 `/assets/<name>-<hash>.<ext>`: cached for a year, immutable)
 *   missing /assets/…          → 404 (an HTML page is never a script)
 *   any other path             → index.html
 *   index.html missing         → 503 "run npm run build"
 * Files are read per request, so a rebuild shows without restarting the hub.
 */

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** esbuild's `[name]-[hash]`: a dash and at least 8 letters or digits right before the extension(s). */
const HASHED_ASSET = /^\/assets\/(?:.+\/)?[^/]+-[A-Za-z0-9]{8,}(?:\.[A-Za-z0-9]+)+$/;

const NOT_BUILT =
  'The Vigil web app is not built: run `npm run build` (or `npm run build:web`) in the Vigil folder, then reload this page. The API (/api/…) works without it.\n';

/** The answer for a GET or HEAD of a path outside /api/. */
export async function staticResponse(webDir: string, path: string, ifNoneMatch: string | undefined): Promise<ApiResponse> {
  const root = resolve(webDir);
  const file = fileFor(root, path);
  const found = file === undefined ? undefined : await fileResponse(file, ifNoneMatch, HASHED_ASSET.test(path));
  if (found) return found;
  if (path.startsWith('/assets/')) return { status: 404, body: `no file ${path} in the web app\n` };
  const index = await fileResponse(resolve(root, 'index.html'), ifNoneMatch, false);
  return index ?? { status: 503, body: NOT_BUILT, headers: { 'cache-control': 'no-store' } };
}

/** The file a URL path names inside root; undefined for `/`, hidden files, or anything that would leave root. */
function fileFor(root: string, path: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.split('/').some((segment) => segment.startsWith('.'))) return undefined;
  const file = resolve(root, `.${decoded}`);
  return file.startsWith(root + sep) ? file : undefined;
}

async function fileResponse(file: string, ifNoneMatch: string | undefined, immutable: boolean): Promise<ApiResponse | undefined> {
  let info;
  try {
    info = await stat(file);
  } catch {
    return undefined;
  }
  if (!info.isFile()) return undefined;
  const etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
  const headers: Record<string, string> = {
    'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    etag,
  };
  if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((tag) => tag.trim() === etag)) return { status: 304, headers };
  try {
    return { status: 200, headers, body: await readFile(file) };
  } catch {
    // Removed between stat and read (a rebuild running): as if it was not there.
    return undefined;
  }
}
