import type { Database } from 'lmdb';
import { whenDurable } from './when-durable.js';

/**
 * Model package bytes kept in the store (the active and the previous version of
 * each model), so a restart can reload and roll back without the model folder.
 * Not subject to the disk quota: a handful of packages, each written on deploy.
 * Writes resolve once durable.
 */
export class ModelStore {
  constructor(private readonly db: Database<Buffer, string>) {}

  async put(key: string, bytes: Uint8Array): Promise<void> {
    await whenDurable(this.db, this.db.put(key, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
  }

  get(key: string): Uint8Array | undefined {
    const value = this.db.get(key);
    return value === undefined ? undefined : new Uint8Array(value);
  }

  async delete(key: string): Promise<boolean> {
    return whenDurable(this.db, this.db.remove(key));
  }

  /** Stored keys with their sizes, in key order. */
  list(): Array<{ key: string; bytes: number }> {
    const out: Array<{ key: string; bytes: number }> = [];
    for (const { key, value } of this.db.getRange({})) out.push({ key, bytes: value.length });
    return out;
  }
}
