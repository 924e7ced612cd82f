import { randomBytes } from 'node:crypto';
import type { Database } from 'lmdb';
import { whenDurable } from './when-durable.js';

/** Where the store keeps its epoch (see `ensureEpoch`). */
const EPOCH_KEY = 'store:epoch';

/** Small values the agent keeps across restarts (msgpack-encoded). Writes resolve once durable. */
export class AgentState {
  constructor(private readonly db: Database<unknown, string>) {}

  get<T>(key: string): T | undefined {
    return this.db.get(key) as T | undefined;
  }

  async put(key: string, value: unknown): Promise<void> {
    await whenDurable(this.db, this.db.put(key, value));
  }

  async delete(key: string): Promise<boolean> {
    return whenDurable(this.db, this.db.remove(key));
  }

  /**
   * The store's epoch: a random id (16 bytes, hex) made when the store is
   * created and kept for its life. Outbox seqs restart at 1 in a fresh store
   * (first start, or after a damaged one was quarantined), so the hub keys
   * what it stored by (agent, epoch, stream, seq): a new epoch can never be
   * mistaken for records it already has. Durable before it is returned, so
   * no record can reach the hub under an epoch a crash could take back.
   */
  async ensureEpoch(): Promise<string> {
    const existing = this.get<unknown>(EPOCH_KEY);
    if (typeof existing === 'string' && existing.length > 0) return existing;
    const epoch = randomBytes(16).toString('hex');
    await this.put(EPOCH_KEY, epoch);
    return epoch;
  }
}
