import type { Database } from 'lmdb';
import { whenDurable } from './when-durable.js';

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
}
