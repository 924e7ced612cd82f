import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread running the module `compiled` (a `.js` URL beside
 * the caller). Built (dist/), the `.js` is there and runs as is. Running from
 * the TypeScript sources (vitest, tsx) there is only the `.ts`, and a worker
 * thread ignores `--import tsx` in execArgv on Node 20, so a small bootstrap
 * registers tsx's ESM hooks inside the thread and then imports the `.ts`. tsx
 * is resolved from this package, so the working directory does not matter.
 * `options` (workerData, transferList, …) apply either way.
 */
export function startModuleWorker(compiled: URL, options: WorkerOptions = {}): Worker {
  if (!compiled.pathname.endsWith('.js')) throw new Error(`startModuleWorker: ${compiled.href} is not a .js module URL`);
  if (existsSync(fileURLToPath(compiled))) return new Worker(compiled, options);
  const source = new URL(compiled.href.replace(/\.js$/, '.ts')).href;
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}
