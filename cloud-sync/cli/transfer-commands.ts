import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { describeError } from '../../shared/errors.js';
import { ConfigError, loadHubConfig } from '../config/load-hub-config.js';
import { postgresUrl, redactPostgresUrl } from '../config/open-hub-storage.js';
import { migratePostgres } from '../storage/postgres-migrations.js';
import type { ExportCounts } from '../transfer/export-format.js';
import { exportHub } from '../transfer/export-hub.js';
import { importHub } from '../transfer/import-hub.js';
import { withHubStorage, type Print } from './with-hub-storage.js';

const summary = (c: ExportCounts) =>
  `${c.agents} agents, ${c.records.toLocaleString('en')} records, ${c.resolutions} resolutions, ${c.models} model versions, ${c.deployments} deployments, ${c.users} users, ${c.apiTokens} API tokens, ${c.meta} settings`;

/** `vigil hub migrate`: applies pending PostgreSQL schema migrations (one replica or this command at a time). */
export async function runHubMigrate(configFile: string, out: Print): Promise<number> {
  try {
    const config = await loadHubConfig(configFile);
    if (config.storage.type !== 'postgres') {
      out('storage is lmdb: nothing to migrate (the embedded store has no schema migrations)');
      return 0;
    }
    const url = postgresUrl(config.storage);
    const { applied, current } = await migratePostgres(url, config.storage.schema);
    out(applied.length === 0 ? `schema ${config.storage.schema} on ${redactPostgresUrl(url)} is up to date (version ${current})` : `applied migration(s) ${applied.join(', ')} to schema ${config.storage.schema} on ${redactPostgresUrl(url)}; now at version ${current}`);
    return 0;
  } catch (err) {
    process.stderr.write(err instanceof ConfigError ? err.format() + '\n' : `vigil hub migrate: ${describeError(err)}\n`);
    return 1;
  }
}

/** `vigil hub export --out <file>`: the whole hub as JSON lines, written to a temporary name and renamed when complete. */
export async function runHubExport(configFile: string, file: string, out: Print): Promise<number> {
  return withHubStorage('hub export', configFile, async (storage, config) => {
    const partial = `${file}.partial`;
    const stream = createWriteStream(partial, { mode: 0o600 });
    try {
      let last = 0;
      const counts = await exportHub(storage, {
        hubId: config.hub.id,
        dataDir: config.hub.dataDir,
        out: stream,
        progress: (c) => {
          if (Date.now() - last < 2000) return;
          last = Date.now();
          process.stderr.write(`… ${c.records.toLocaleString('en')} records\n`);
        },
      });
      stream.end();
      await finished(stream);
      renameSync(partial, file);
      out(`exported ${summary(counts)} from ${storage.kind} storage to ${file}`);
      out('the file holds the package signing key and token hashes: keep it as safe as the hub itself');
      return 0;
    } catch (err) {
      stream.destroy();
      rmSync(partial, { force: true });
      throw err;
    }
  });
}

/** `vigil hub import <file>`: loads an export into this configuration's (empty) storage. */
export async function runHubImport(configFile: string, file: string, out: Print): Promise<number> {
  return withHubStorage('hub import', configFile, async (storage, config) => {
    let last = 0;
    const counts = await importHub(storage, file, {
      dataDir: config.hub.dataDir,
      progress: (c) => {
        if (Date.now() - last < 2000) return;
        last = Date.now();
        process.stderr.write(`… ${c.records.toLocaleString('en')} records\n`);
      },
    });
    out(`imported ${summary(counts)} into ${storage.kind} storage`);
    out('agents keep their tokens and the hub keeps its signing key; point the agents (hub.url / hub.urls) at the new hub');
    return 0;
  });
}

