import { mkdtempSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/logger.js';
import { openAgentStore } from '../../agent/store/open-store.js';

let root: string | undefined;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('store epoch', () => {
  it('is made with the store, kept across restarts, and new for a fresh store after quarantine', async () => {
    root = mkdtempSync(join(tmpdir(), 'vigil-epoch-'));
    const dir = join(root, 'store');
    const open = () => openAgentStore({ dir, quotaBytes: 1024 ** 3, historyHours: 1, log: silentLogger() });

    const first = await open();
    const epoch = first.epoch;
    expect(epoch).toMatch(/^[0-9a-f]{32}$/);
    await first.outbox.append('scores', [{ n: 1 }, { n: 2 }]);
    await first.close();

    const again = await open();
    expect(again.epoch).toBe(epoch);
    expect(again.outbox.lastDurable('scores')).toBe(2);
    await again.close();

    truncateSync(join(dir, 'data.mdb'), 0);
    const fresh = await open();
    expect(fresh.quarantinedTo).not.toBeNull();
    expect(fresh.epoch).toMatch(/^[0-9a-f]{32}$/);
    expect(fresh.epoch).not.toBe(epoch);
    // Seqs start at 1 again: the new epoch is what keeps the hub from taking them for the old ones.
    expect((await fresh.outbox.append('scores', [{ n: 1 }])).first).toBe(1);
    await fresh.close();
  });
});
