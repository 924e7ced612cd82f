import type { Database } from 'lmdb';

/**
 * Resolves once `commit` — a promise returned by an lmdb-js write (`put`,
 * `remove`, `batch`, `transaction`) — is durable on disk.
 *
 * With lmdb-js's default `overlappingSync` (on for every non-Windows OS; the
 * agent's store keeps it, the hub's store turns it off because admin commands
 * open it from a second process — see lmdb-layout.ts; neither uses `noSync`),
 * a write's promise resolves when its transaction is COMMITTED: visible to
 * readers, but the fsync runs after the write lock is released (with it off,
 * the commit already includes the fsync). `db.flushed` is the durability
 * signal: it resolves when the last commit is synced to disk. We read it
 * after our commit resolved, so "the last commit" is ours or a later one;
 * transactions of one environment are committed and synced in order, so its
 * resolution covers ours.
 * A `kill -9` after `committed` already keeps the data (same boot: lmdb-js
 * reopens the last committed transaction); power loss needs `flushed`.
 */
export async function whenDurable<T>(db: Database<any, any>, commit: Promise<T>): Promise<T> {
  const value = await commit;
  await db.flushed;
  return value;
}
