import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

/**
 * Builds the hub's web app into static files the hub serves (`npm run build:web`):
 *
 *   src/main.tsx ──esbuild (bundle, minify, sourcemap)──> assets/app-<hash>.js (+ .map)
 *   app.css (@import uPlot's sheet) ───────────────────> assets/app-<hash>.css
 *   index.html ──references rewritten to the hashed names──> index.html
 *
 * Hashed names let the hub cache assets for a long time and index.html not at
 * all. Everything is bundled: plant networks are closed, so no CDN.
 */

const webDir = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = join(webDir, '..', '..');

export interface WebBuild {
  outDir: string;
  /** Paths relative to outDir, e.g. `assets/app-3KX7Q2ZA.js`. */
  js: string;
  css: string;
  files: string[];
}

export async function buildWebApp(outDir = join(repoRoot, 'dist', 'web')): Promise<WebBuild> {
  // Old hashed files would pile up otherwise.
  rmSync(outDir, { recursive: true, force: true });
  const assets = join(outDir, 'assets');
  const result = await build({
    absWorkingDir: repoRoot,
    entryPoints: [join(webDir, 'src', 'main.tsx'), join(webDir, 'app.css')],
    entryNames: 'app-[hash]',
    outdir: assets,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((file) => relative(outDir, join(repoRoot, file)).split('\\').join('/'));
  const js = outputs.find((f) => f.endsWith('.js'));
  const css = outputs.find((f) => f.endsWith('.css'));
  if (!js || !css) throw new Error(`esbuild produced no ${js ? 'CSS' : 'JavaScript'} bundle (outputs: ${outputs.join(', ')})`);

  const template = readFileSync(join(webDir, 'index.html'), 'utf8');
  const html = replaceOnce(replaceOnce(template, 'href="app.css"', `href="/${css}"`), 'src="app.js"', `src="/${js}"`);
  writeFileSync(join(outDir, 'index.html'), html);
  return { outDir, js, css, files: ['index.html', ...outputs].sort() };
}

function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`cloud-sync/web/index.html must reference ${from}; the build replaces it with the hashed asset`);
  return text.replace(from, to);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const built = await buildWebApp(process.argv[2]);
  console.log(`built the web app into ${relative(process.cwd(), built.outDir) || '.'}: ${built.files.map((f) => basename(f)).join(', ')}`);
}
