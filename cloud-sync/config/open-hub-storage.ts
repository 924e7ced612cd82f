import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VigilError, describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { HubStorage } from '../storage/hub-storage.js';
import { openLmdbHubStorage } from '../storage/lmdb-storage.js';
import { openPostgresHubStorage } from '../storage/postgres-storage.js';
import type { HubConfig, PostgresStorageConfig } from './hub-config-schema.js';

export interface OpenHubStorageOptions {
  log?: Logger;
  /**
   * PostgreSQL: apply pending migrations now. Default: as `storage.migrate`
   * says (on-start). `vigil hub migrate` passes true; admin commands false,
   * so only the hub itself or an explicit migrate changes the schema.
   */
  applyMigrations?: boolean;
}

/** Opens the storage backend hub.yaml names (the hub and the admin commands share it). */
export async function openHubStorage(config: Pick<HubConfig, 'hub' | 'storage'>, options: OpenHubStorageOptions = {}): Promise<HubStorage> {
  const storage = config.storage;
  if (storage.type === 'postgres') {
    return openPostgresHubStorage({
      url: postgresUrl(storage),
      schema: storage.schema,
      poolSize: storage.poolSize,
      applyMigrations: options.applyMigrations ?? storage.migrate === 'on-start',
      ...(options.log ? { log: options.log } : {}),
    });
  }
  const dir = join(config.hub.dataDir, 'store');
  try {
    return await openLmdbHubStorage(dir);
  } catch (err) {
    if (err instanceof VigilError) throw err;
    throw new VigilError('VIGIL_HUB_STORAGE_FAILED', `cannot open the hub storage in ${dir}: ${describeError(err)}`, { cause: err });
  }
}

/** The URL with the password from passwordFile, when one is given. */
export function postgresUrl(storage: Pick<PostgresStorageConfig, 'url' | 'passwordFile'>): string {
  if (storage.passwordFile === undefined) return storage.url;
  let password: string;
  try {
    password = readFileSync(storage.passwordFile, 'utf8').split(/\r?\n/)[0] ?? '';
  } catch (err) {
    throw new VigilError('VIGIL_HUB_STORAGE_FAILED', `cannot read the database password file ${storage.passwordFile}: ${describeError(err)}`, { cause: err });
  }
  const url = new URL(storage.url);
  url.password = encodeURIComponent(password);
  return url.toString();
}

/** The URL without its password, for logs. */
export function redactPostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}
