import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebApp, type WebBuild } from '../../cloud-sync/web/build.js';

/**
 * The web app builds into self-contained static files: plant networks are
 * closed, so nothing may be loaded from another host (no CDN, no web fonts).
 */

// XML namespace names inside Preact's DOM code: identifiers, never fetched.
const NAMESPACE_URIS = new Set(['http://www.w3.org/2000/svg', 'http://www.w3.org/1999/xhtml', 'http://www.w3.org/1998/Math/MathML', 'http://www.w3.org/1999/xlink', 'http://www.w3.org/XML/1998/namespace']);

let dir: string;
let built: WebBuild;
const read = (file: string) => readFileSync(join(built.outDir, file), 'utf8');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-web-'));
  built = await buildWebApp(join(dir, 'web'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('web app build', () => {
  it('writes index.html and content-hashed JS and CSS bundles with source maps', () => {
    expect(built.js).toMatch(/^assets\/app-[A-Z0-9]{8}\.js$/);
    expect(built.css).toMatch(/^assets\/app-[A-Z0-9]{8}\.css$/);
    for (const file of ['index.html', built.js, built.css, `${built.js}.map`, `${built.css}.map`]) expect(existsSync(join(built.outDir, file)), file).toBe(true);
    expect(built.files).toEqual(['index.html', built.js, `${built.js}.map`, built.css, `${built.css}.map`].sort());
  });

  it('points index.html at the hashed files by absolute path, and at nothing else', () => {
    const html = read('index.html');
    const references = [...html.matchAll(/\s(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    expect(references.sort()).toEqual([`/${built.css}`, `/${built.js}`].sort());
    expect(html).toContain('<div id="app"></div>');
    expect(html).toContain('type="module"');
  });

  it('bundles the app and its libraries: Preact, uPlot and uPlot’s stylesheet', () => {
    // includes() rather than toContain(): a failure must not print a 120 KB bundle.
    const js = read(built.js);
    expect(js.includes('Was this a real problem?'), 'the app').toBe(true);
    expect(js.includes('u-legend'), 'uPlot').toBe(true);
    expect(js.includes('preact'), 'the bundle must not import Preact at run time').toBe(false);
    const css = read(built.css);
    expect(css.includes('.uplot'), 'uPlot’s stylesheet').toBe(true);
    expect(css.includes('.header-bar'), 'app.css').toBe(true);
    expect(css.includes('@import'), 'an @import left for the browser').toBe(false);
  });

  it('references no other host: no CDN, no remote font, no external script', () => {
    for (const file of ['index.html', built.js, built.css]) {
      const text = read(file);
      const urls = [...text.matchAll(/(?:https?:)?\/\/[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s"'`)]*/g)].map((m) => m[0]).filter((url) => !NAMESPACE_URIS.has(url));
      expect(urls, file).toEqual([]);
    }
  });
});
