import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { openLmdbHubStorage } from '../../cloud-sync/storage/lmdb-storage.js';

/**
 * Reproducer (not part of npm test or CI: it fails, rarely, on purpose): the
 * hub's admin commands open the hub's LMDB store from their own process while
 * the hub runs. Each round, the hub writes agents back to back while
 * `--openers` processes open the store — through the storage code, adding an
 * API token as `vigil hub tokens add` does (`--mode token`), or read-only
 * (`--mode read`) — and close it; then the store is reopened and every
 * acknowledged write must be there. Exit 1 when any is missing.
 *
 * Measured on lmdb-js 3.5.6 (2 cores, continuous hub writes, 6 openers):
 *   overlappingSync on (lmdb-js default): 6 lost in 40 rounds, 4 in 30;
 *   overlappingSync off (the hub's store since 2026-11-28): 3 lost in 320
 *   rounds (1,920 openings); read-only openers: 2 lost in 60 rounds.
 * Every lost write was the hub's (mid-sequence), acknowledged after `flushed`.
 *
 * npm run repro:hub-store-openings -- [--rounds 40] [--openers 6] [--mode token|read]
 */
const { values: opts } = parseArgs({
  options: { rounds: { type: 'string', default: '40' }, openers: { type: 'string', default: '6' }, mode: { type: 'string', default: 'token' } },
});
const ROUNDS = Number(opts.rounds);
const OPENERS = Number(opts.openers);
const repo = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

const OPEN_AND_ADD_TOKEN = `
const [dir, id] = process.argv.slice(1);
const { openLmdbHubStorage } = await import(${JSON.stringify(join(repo, 'cloud-sync/storage/lmdb-storage.ts'))});
const storage = await openLmdbHubStorage(dir);
await storage.createApiToken({ id, name: 'n-' + id, role: 'viewer', tokenHash: 'h'.repeat(64), tokenSalt: 's'.repeat(32), createdAt: Date.now(), revokedAt: null });
await storage.close();
`;
const OPEN_READ_ONLY = `
const [dir] = process.argv.slice(1);
const { open } = await import('lmdb');
const env = open({ path: dir, maxDbs: 32, readOnly: true });
env.openDB({ name: 'agents' }).getKeysCount();
await env.close();
`;

const parent = mkdtempSync(join(tmpdir(), 'vigil-hub-openers-'));
const lost: string[] = [];
let acknowledged = 0;
try {
  for (let round = 0; round < ROUNDS; round++) {
    const dir = join(parent, `r${round}`);
    const hub = await openLmdbHubStorage(dir);
    const written: string[] = [];
    let stop = false;
    const hubWrites = (async () => {
      while (!stop) {
        const id = `gw-${round}-${written.length}`;
        await hub.createAgent({ id, labels: {}, tokenHash: 'h', tokenSalt: 's', createdAt: Date.now() });
        written.push(id);
      }
    })();
    const tokens = Array.from({ length: OPENERS }, (_, i) => `${round.toString(16).padStart(6, '0')}${i.toString(16).padStart(6, '0')}`);
    const source = opts.mode === 'read' ? OPEN_READ_ONLY : OPEN_AND_ADD_TOKEN;
    try {
      await Promise.all(tokens.map((id) => run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source, dir, id], { cwd: repo })));
    } finally {
      stop = true;
      await hubWrites;
    }
    await hub.close();
    // What a restarted hub finds: every acknowledged write must be on disk.
    const reopened = await openLmdbHubStorage(dir);
    const agents = new Set((await reopened.listAgents()).map((a) => a.id));
    const missingAgents = written.filter((id) => !agents.has(id));
    lost.push(...missingAgents.map((id) => `round ${round}: the hub's agent ${id} (written ${written.length})`));
    if (opts.mode !== 'read') {
      const present = new Set((await reopened.listApiTokens()).map((t) => t.id));
      lost.push(...tokens.filter((id) => !present.has(id)).map((id) => `round ${round}: token ${id} from another process`));
    }
    acknowledged += written.length + (opts.mode === 'read' ? 0 : tokens.length);
    await reopened.close();
    process.stdout.write(`round ${round + 1}/${ROUNDS}: ${written.length} hub writes, ${missingAgents.length} lost\n`);
  }
} finally {
  rmSync(parent, { recursive: true, force: true });
}
console.log(`${ROUNDS} rounds of ${OPENERS} openers (${opts.mode}): ${acknowledged} acknowledged writes, ${lost.length} lost`);
for (const line of lost) console.log(`  ${line}`);
process.exit(lost.length === 0 ? 0 : 1);
