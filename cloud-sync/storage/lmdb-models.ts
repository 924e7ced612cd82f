import type { ModelVersionRecord } from './hub-storage.js';
import { KEY_MAX, durableWrite, type HubDbs } from './lmdb-layout.js';

/** The model registry: immutable version records, their package bytes kept apart so listing never reads them. */
export class LmdbModels {
  constructor(private readonly dbs: HubDbs) {}

  put(record: ModelVersionRecord, packageBytes: Uint8Array): Promise<'created' | 'exists'> {
    const key: [string, string] = [record.name, record.version];
    const bytes = Buffer.from(packageBytes.buffer, packageBytes.byteOffset, packageBytes.byteLength);
    return durableWrite(this.dbs.env, () => {
      if (this.dbs.models.doesExist(key)) return 'exists';
      this.dbs.models.putSync(key, record);
      this.dbs.packages.putSync(key, bytes);
      return 'created';
    });
  }

  get(name: string, version: string): ModelVersionRecord | undefined {
    return this.dbs.models.get([name, version]);
  }

  getPackage(name: string, version: string): Uint8Array | undefined {
    const bytes = this.dbs.packages.get([name, version]);
    return bytes === undefined ? undefined : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Oldest upload first (ties: name, then version). */
  list(name?: string): ModelVersionRecord[] {
    const range = name === undefined ? {} : { start: [name], end: [name, KEY_MAX] };
    const out = [...this.dbs.models.getRange(range)].map(({ value }) => value);
    return out.sort((a, b) => a.uploadedAt - b.uploadedAt || compare(a.name, b.name) || compare(a.version, b.version));
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
