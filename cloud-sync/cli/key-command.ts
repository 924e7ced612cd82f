import { readFile } from 'node:fs/promises';
import { describeError } from '../../shared/errors.js';
import { ConfigError, loadHubConfig } from '../config/load-hub-config.js';
import { openHubStorage } from '../config/open-hub-storage.js';
import { loadHubSigningKey } from '../registry/shared-signing-key.js';
import { loadOrCreateSigningKey, signingKeyPaths } from '../registry/signing-key.js';
import type { Print } from './with-hub-storage.js';

/**
 * `vigil hub key`: prints the public key agents verify packages with (their
 * hub.publicKeyFile). Before the hub's first start the key pair is created
 * here, the same way the hub would.
 */
export async function runHubKey(configFile: string, out: Print): Promise<number> {
  try {
    const config = await loadHubConfig(configFile);
    let pem: string;
    if (config.storage.type === 'postgres') {
      // Replicas share the key in the database: ask it, not a file that may be another replica's.
      const storage = await openHubStorage(config, { applyMigrations: false });
      try {
        pem = (await loadHubSigningKey(storage, config.hub.dataDir)).publicKeyPem;
      } finally {
        await storage.close();
      }
    } else {
      const publicKeyFile = signingKeyPaths(config.hub.dataDir).publicKey;
      pem = await readFile(publicKeyFile, 'utf8').catch(() => loadOrCreateSigningKey(config.hub.dataDir).publicKeyPem);
    }
    out(pem.trimEnd());
    return 0;
  } catch (err) {
    process.stderr.write(err instanceof ConfigError ? err.format() + '\n' : `vigil hub key: ${describeError(err)}\n`);
    return 1;
  }
}
