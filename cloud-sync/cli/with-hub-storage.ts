import { describeError } from '../../shared/errors.js';
import { ConfigError, loadHubConfig } from '../config/load-hub-config.js';
import type { HubConfig } from '../config/hub-config-schema.js';
import { openHubStorage } from '../config/open-hub-storage.js';
import type { HubStorage } from '../storage/hub-storage.js';

export type Print = (line: string) => void;

/**
 * Runs an admin command against the hub's storage directly (LMDB lets a second
 * process in beside the running hub): loads hub.yaml, opens, runs, closes.
 * Problems are printed for a person; the result is the exit code.
 */
export async function withHubStorage(command: string, configFile: string, run: (storage: HubStorage, config: HubConfig) => Promise<number>): Promise<number> {
  let storage: HubStorage | undefined;
  try {
    const config = await loadHubConfig(configFile);
    storage = await openHubStorage(config);
    return await run(storage, config);
  } catch (err) {
    process.stderr.write(err instanceof ConfigError ? err.format() + '\n' : `vigil ${command}: ${describeError(err)}\n`);
    return 1;
  } finally {
    await storage?.close();
  }
}

/** Columns padded to their widest cell, for lists people read in a terminal. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function isoTime(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
