import { existsSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, truncateSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openAgentStore, type AgentStore, type StoreEvent } from '../../agent/store/open-store.js';
import { silentLogger } from '../../shared/logger.js';

let root: string;
let dir: string;
const stores: AgentStore[] = [];

async function openStore(onEvent?: (e: StoreEvent) => void): Promise<AgentStore> {
  const store = await openAgentStore({ dir, quotaBytes: 1024 ** 3, historyHours: 1, log: silentLogger(), onEvent });
  stores.push(store);
  return store;
}

/** A store with enough data that its file spans many pages. */
async function fill(): Promise<void> {
  const store = await openStore();
  for (let i = 0; i < 5; i++) await store.outbox.append('scores', Array.from({ length: 1000 }, (_, j) => ({ i, j, pad: 'p'.repeat(100) })));
  await store.models.put('pump-pca@1.0.0', new Uint8Array(50_000).fill(7));
  await store.close();
  stores.length = 0;
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'vigil-quarantine-'));
  dir = join(root, 'store');
});

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  rmSync(root, { recursive: true, force: true });
});

/** LMDB would crash the agent (SIGBUS / SIGSEGV) on these; the probe child takes the hit instead. */
const damages: Array<[string, (file: string) => void]> = [
  ['truncated', (file) => truncateSync(file, Math.floor(statSync(file).size / 3))],
  [
    'garbage over its header',
    (file) => {
      const fd = openSync(file, 'r+');
      writeSync(fd, Buffer.alloc(8192, 0x5a), 0, 8192, 0);
      closeSync(fd);
    },
  ],
  ['emptied', (file) => truncateSync(file, 0)],
];

describe('store quarantine', () => {
  for (const [name, damage] of damages) {
    it(`moves a ${name} environment aside, starts fresh and raises store_quarantined`, async () => {
      await fill();
      damage(join(dir, 'data.mdb'));
      const events: StoreEvent[] = [];

      const store = await openStore((e) => events.push(e));
      expect(events).toHaveLength(1);
      expect(events[0]!.kind).toBe('store_quarantined');
      expect(store.quarantinedTo).not.toBeNull();
      expect(events[0]!.details.quarantinedTo).toBe(store.quarantinedTo);
      expect(store.counters().quarantined).toBe(1);
      // The damaged files are kept for a person to look at, under <dataDir>/store-quarantine/.
      expect(store.quarantinedTo!.startsWith(join(root, 'store-quarantine'))).toBe(true);
      expect(readdirSync(store.quarantinedTo!).sort()).toEqual(['data.mdb', 'lock.mdb']);

      // The fresh store works and numbers from 1 again.
      expect(store.outbox.stats().scores.next).toBe(1);
      expect(await store.outbox.append('scores', [{ fresh: true }])).toEqual({ first: 1, last: 1 });
      expect(store.models.list()).toEqual([]);
    });
  }

  it('opens a healthy environment as it is, without quarantine', async () => {
    await fill();
    const events: StoreEvent[] = [];
    const store = await openStore((e) => events.push(e));
    expect(events).toEqual([]);
    expect(store.quarantinedTo).toBeNull();
    expect(existsSync(join(root, 'store-quarantine'))).toBe(false);
    expect(store.outbox.stats().scores.pendingCount).toBe(5000);
    expect(store.models.get('pump-pca@1.0.0')).toEqual(new Uint8Array(50_000).fill(7));
  });
});
