import { VigilError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { PerKeyQueue } from '../deployments/per-key-queue.js';
import { FLEET_MESSAGE_MAX_BYTES } from './hub-storage.js';

/**
 * Locks and messages for a storage only one hub process opens (LMDB): the
 * "fleet" is this process, so a lock is a queue per name and a published
 * message goes to this process's subscribers. Same contract as the
 * PostgreSQL version (size limit, asynchronous delivery, listener errors
 * logged), so code written against one behaves the same on the other.
 */
export class InProcessFleet {
  private readonly locks = new PerKeyQueue();
  private readonly listeners = new Set<(message: unknown) => void>();

  constructor(private readonly log?: Logger) {}

  withLock<T>(name: string, work: () => Promise<T>): Promise<T> {
    return this.locks.run(name, work);
  }

  async publish(message: unknown): Promise<void> {
    const text = serialiseFleetMessage(message);
    // A copy, delivered after the caller's turn, as NOTIFY would.
    setImmediate(() => this.deliver(JSON.parse(text) as unknown));
  }

  subscribe(listener: (message: unknown) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private deliver(message: unknown): void {
    for (const listener of this.listeners) {
      try {
        listener(message);
      } catch (err) {
        this.log?.error({ err }, 'a fleet message listener failed');
      }
    }
  }
}

/** JSON of a fleet message; refuses one over FLEET_MESSAGE_MAX_BYTES (a NOTIFY payload must stay under 8,000 bytes). */
export function serialiseFleetMessage(message: unknown): string {
  const text = JSON.stringify(message);
  if (text === undefined) throw new VigilError('VIGIL_HUB_STORAGE_FAILED', 'a fleet message must be JSON-serialisable');
  const bytes = Buffer.byteLength(text);
  if (bytes > FLEET_MESSAGE_MAX_BYTES) {
    throw new VigilError('VIGIL_HUB_STORAGE_FAILED', `a fleet message of ${bytes} bytes is over the ${FLEET_MESSAGE_MAX_BYTES}-byte limit; send an id and let replicas read the rest from storage`);
  }
  return text;
}
