import { buildWebApp } from '../cloud-sync/web/build.js';

/**
 * Runs once before every test file: the hub processes that browser tests
 * start serve <repo>/dist/web, so the web app is built from the current
 * source here — once, not by each file (two files rebuilding the folder while
 * the other's hub serves it would race).
 */
export default async function setup(): Promise<void> {
  await buildWebApp();
}
