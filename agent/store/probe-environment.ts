import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * Runs in a throw-away `node` process: LMDB reads a damaged file through a
 * memory map, so a truncated data.mdb kills the reader with SIGBUS and a
 * garbage header with SIGSEGV — nothing JavaScript can catch. The child opens
 * the environment read-only, checks that data.mdb is as long as its last page
 * says, and walks every key of every sub-database (branch and leaf pages).
 */
const PROBE = `
const [lmdbPath, dir] = process.argv.slice(1);
const { open } = require(lmdbPath);
const fs = require('node:fs');
const env = open({ path: dir, readOnly: true });
const stats = env.getStats();
const size = fs.statSync(dir + '/data.mdb').size;
if ((stats.lastPageNumber + 1) * stats.pageSize > size) {
  process.stderr.write('data.mdb is ' + size + ' bytes but its last page ends at ' + (stats.lastPageNumber + 1) * stats.pageSize);
  process.exit(3);
}
let entries = 0;
// Names first: opening a sub-database inside the iteration invalidates its read transaction.
const names = [...env.getKeys({})];
for (const name of names) {
  if (typeof name !== 'string') continue;
  const db = env.openDB({ name, encoding: 'binary' });
  if (db) for (const key of db.getKeys({})) entries++;
}
process.stdout.write(JSON.stringify({ entries }));
`;

export type ProbeResult =
  | { state: 'absent' }
  | { state: 'healthy'; entries: number }
  | { state: 'damaged'; reason: string }
  /** The walk took too long: treated as healthy, never quarantined for being big. */
  | { state: 'unknown'; reason: string };

const MIN_DATA_BYTES = 2 * 4096;

export async function probeEnvironment(dir: string, timeoutMs = 60_000): Promise<ProbeResult> {
  const dataFile = join(dir, 'data.mdb');
  if (!existsSync(dataFile)) return { state: 'absent' };
  // LMDB silently re-initialises an empty data.mdb: the data is gone, and the
  // operator must hear about it rather than see a fresh store.
  const size = statSync(dataFile).size;
  if (size < MIN_DATA_BYTES) return { state: 'damaged', reason: `data.mdb is ${size} bytes, shorter than LMDB's two meta pages` };
  const lmdbPath = createRequire(import.meta.url).resolve('lmdb');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', PROBE, lmdbPath, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
      resolve({ state: 'unknown', reason: `probe still walking after ${timeoutMs} ms` });
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ state: 'unknown', reason: `probe could not start: ${error.message}` });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return; // already resolved
      if (code === 0) {
        resolve({ state: 'healthy', entries: (JSON.parse(out || '{"entries":0}') as { entries: number }).entries });
      } else if (signal === 'SIGKILL' || signal === 'SIGTERM') {
        resolve({ state: 'unknown', reason: `probe was killed from outside (${signal})` });
      } else {
        const why = signal ? `reading it crashed the probe (${signal})` : `opening it failed (exit ${code})`;
        resolve({ state: 'damaged', reason: `${why}: ${err.trim().split('\n').slice(-3).join(' ') || 'no message'}` });
      }
    });
  });
}
