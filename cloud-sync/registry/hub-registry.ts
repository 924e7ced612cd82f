import type { KeyObject } from 'node:crypto';
import { readModelPackage } from '../../agent/models/package-file.js';
import { VigilError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { modelKey, type ModelManifest } from '../../shared/model-manifest.js';
import { sha256Hex, signPackage } from '../../shared/package-signature.js';
import type { HubStorage, ModelVersionRecord } from '../storage/hub-storage.js';

export interface HubRegistryDeps {
  storage: HubStorage;
  privateKey: KeyObject;
  log: Logger;
  now?: () => number;
}

/**
 * The hub's model registry: takes an uploaded package, checks it the way an
 * agent reads it (archive, manifest, ONNX checksum) so a broken package is
 * refused at the door instead of on every agent, signs the bytes with the
 * hub's key and stores them. Versions are immutable: the bytes an agent
 * verified yesterday are the bytes it gets today.
 */
export class HubRegistry {
  private readonly now: () => number;

  constructor(private readonly deps: HubRegistryDeps) {
    this.now = deps.now ?? Date.now;
  }

  async upload(bytes: Uint8Array, by: string): Promise<ModelVersionRecord> {
    let manifest: ModelManifest;
    try {
      manifest = readUploadedManifest(bytes);
    } catch (err) {
      this.deps.log.warn({ by, size: bytes.length, err: (err as Error).message }, 'model package upload refused');
      throw err;
    }
    const record: ModelVersionRecord = {
      name: manifest.name,
      version: manifest.version,
      description: manifest.description,
      sha256: sha256Hex(bytes),
      size: bytes.length,
      signature: signPackage(bytes, this.deps.privateKey),
      // Plain JSON: the record crosses storage backends and the API as is.
      manifest: JSON.parse(JSON.stringify(manifest)) as unknown,
      uploadedAt: this.now(),
      uploadedBy: by,
    };
    if ((await this.deps.storage.putModelVersion(record, bytes)) === 'exists') {
      const stored = await this.deps.storage.getModelVersion(record.name, record.version);
      const same = stored?.sha256 === record.sha256 ? ' (the same package was uploaded before)' : '';
      throw new VigilError('VIGIL_API_CONFLICT', `model ${record.name} version ${record.version} exists${same}; versions are immutable — raise the version`, {
        details: { model: record.name, version: record.version },
      });
    }
    this.deps.log.info({ model: modelKey(record), sha256: record.sha256, size: record.size, by }, 'model version uploaded and signed');
    return record;
  }
}

/** The package's manifest, or VIGIL_API_BAD_REQUEST with the reason the agent would give. */
function readUploadedManifest(bytes: Uint8Array): ModelManifest {
  try {
    return readModelPackage(bytes, 'upload').manifest;
  } catch (err) {
    if (!(err instanceof VigilError)) throw err;
    throw new VigilError('VIGIL_API_BAD_REQUEST', `the package was refused (${err.code}): ${err.message}`, { cause: err, details: { refusal: err.code } });
  }
}
