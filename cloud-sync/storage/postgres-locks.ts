import { createHash } from 'node:crypto';
import type pg from 'pg';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { storageFailed } from './postgres-sql.js';

/** The two int4 keys of a named lock: PostgreSQL keeps this key space apart from the one-bigint space migrations use. */
function lockKeys(schema: string, name: string): [number, number] {
  const digest = createHash('sha256').update(`${schema}\0${name}`).digest();
  return [digest.readInt32BE(0), digest.readInt32BE(4)];
}

/**
 * Named locks across replicas: a session advisory lock held on a client of
 * its own pool while `work` runs (work queries through the main pool, so a
 * lock waiting for its turn never starves the queries of the one holding it).
 * Inside one replica, callers of the same name queue in memory first, so
 * waiting costs one connection per name, not one per caller.
 */
export class PostgresLocks {
  private readonly queues = new Map<string, Promise<void>>();

  constructor(
    private readonly lockPool: pg.Pool,
    private readonly schema: string,
    private readonly log: Logger | undefined,
  ) {}

  async withLock<T>(name: string, work: () => Promise<T>): Promise<T> {
    const before = this.queues.get(name) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const tail = before.then(() => mine);
    this.queues.set(name, tail);
    await before;
    try {
      return await this.holdAdvisoryLock(name, work);
    } finally {
      done();
      if (this.queues.get(name) === tail) this.queues.delete(name);
    }
  }

  private async holdAdvisoryLock<T>(name: string, work: () => Promise<T>): Promise<T> {
    const keys = lockKeys(this.schema, name);
    let client: pg.PoolClient;
    try {
      client = await this.lockPool.connect();
    } catch (err) {
      throw storageFailed(`taking the lock ${name}`, err);
    }
    // If the connection dies while work runs, the server drops the lock with
    // the session; the client is then destroyed instead of pooled.
    let broken: Error | undefined;
    const onError = (err: Error) => {
      broken = err;
      this.log?.error({ err: describeError(err), lock: name }, `the connection holding the lock ${name} failed; the lock is released`);
    };
    client.on('error', onError);
    try {
      try {
        await client.query('SELECT pg_advisory_lock($1, $2)', keys);
      } catch (err) {
        broken = err instanceof Error ? err : new Error(String(err));
        throw storageFailed(`taking the lock ${name}`, err);
      }
      try {
        return await work();
      } finally {
        try {
          await client.query('SELECT pg_advisory_unlock($1, $2)', keys);
        } catch (err) {
          broken = err instanceof Error ? err : new Error(String(err));
        }
      }
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }
}
