import { join } from 'node:path';
import { VigilError, describeError } from '../../shared/errors.js';
import type { HubStorage } from '../storage/hub-storage.js';
import { openLmdbHubStorage } from '../storage/lmdb-storage.js';
import type { HubConfig } from './hub-config-schema.js';

/** Opens the storage backend hub.yaml names (the hub and the admin commands share it). */
export async function openHubStorage(config: Pick<HubConfig, 'hub' | 'storage'>): Promise<HubStorage> {
  const dir = join(config.hub.dataDir, 'store');
  try {
    switch (config.storage.type) {
      case 'lmdb':
        return await openLmdbHubStorage(dir);
    }
  } catch (err) {
    if (err instanceof VigilError) throw err;
    throw new VigilError('VIGIL_HUB_STORAGE_FAILED', `cannot open the hub storage in ${dir}: ${describeError(err)}`, { cause: err });
  }
}
