import { existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { SYNC_STREAMS } from '../../shared/sync-protocol.js';
import { SHARED_SIGNING_KEY_META } from '../registry/shared-signing-key.js';
import { signingKeyPaths } from '../registry/signing-key.js';
import type { HubStorage, StoredRecord } from '../storage/hub-storage.js';
import { EXPORT_FORMAT, EXPORT_VERSION, emptyCounts, isPortableMeta, type ExportCounts, type ExportLine } from './export-format.js';

const PAGE = 2000;

export interface ExportOptions {
  hubId: string;
  /** The hub's data folder: on LMDB the signing key is a file there. */
  dataDir: string;
  out: Writable;
  /** Called now and then with what has been written so far. */
  progress?: (counts: ExportCounts) => void;
}

/**
 * Writes everything a hub keeps, except web sessions (people log in again),
 * as JSON lines (export-format.ts). Episodes are not written as such: their
 * records are, and an import rebuilds them (and the score histograms) the way
 * the hub built them, by ingesting; resolutions follow as their own lines.
 */
export async function exportHub(storage: HubStorage, options: ExportOptions): Promise<ExportCounts> {
  const counts = emptyCounts();
  const write = async (line: ExportLine) => {
    if (!options.out.write(JSON.stringify(line) + '\n')) await once(options.out, 'drain');
  };
  await write({ kind: 'header', format: EXPORT_FORMAT, version: EXPORT_VERSION, from: { storage: storage.kind, hub: options.hubId }, exportedAt: Date.now() });

  const privateKeyPem = await signingKeyOf(storage, options.dataDir);
  if (privateKeyPem !== undefined) await write({ kind: 'signing-key', privateKeyPem });
  for (const { key, value } of await storage.listMeta()) {
    if (!isPortableMeta(key, value)) continue;
    await write({ kind: 'meta', key, value });
    counts.meta++;
  }
  for (const agent of await storage.listAgents()) {
    await write({ kind: 'agent', agent });
    counts.agents++;
  }
  for (const token of await storage.listApiTokens()) {
    await write({ kind: 'api-token', token });
    counts.apiTokens++;
  }
  for (const user of await storage.listUsers()) {
    await write({ kind: 'user', user });
    counts.users++;
  }
  for (const version of await storage.listModelVersions()) {
    const bytes = await storage.getPackage(version.name, version.version);
    if (!bytes) continue;
    await write({ kind: 'model', version, packageBase64: Buffer.from(bytes).toString('base64') });
    counts.models++;
  }
  // Oldest first, so an import creates them in the order they happened.
  for (const deployment of (await storage.listDeployments({ limit: Number.MAX_SAFE_INTEGER })).reverse()) {
    await write({ kind: 'deployment', deployment, targets: await storage.listTargets(deployment.id) });
    counts.deployments++;
  }
  options.progress?.(counts);
  for (const stream of SYNC_STREAMS) {
    let cursor: string | null = null;
    do {
      const page: { records: StoredRecord[]; next: string | null } = await storage.scanRecords(stream, cursor, PAGE);
      for (const group of sameIngest(page.records)) {
        const first = group[0]!;
        await write({ kind: 'records', stream, agent: first.agent, epoch: first.epoch, receivedAt: first.receivedAt, records: group.map((r) => ({ seq: r.seq, at: r.at, body: r.body })) });
        counts.records += group.length;
      }
      cursor = page.next;
      options.progress?.(counts);
    } while (cursor !== null);
  }
  for (let offset = 0; ; offset += PAGE) {
    const resolved = await storage.listEpisodes({ status: 'resolved', limit: PAGE, offset });
    for (const e of resolved) {
      if (e.resolution === null) continue;
      await write({ kind: 'resolution', episode: e.episode.id, resolution: e.resolution });
      counts.resolutions++;
    }
    if (resolved.length < PAGE) break;
  }
  await write({ kind: 'end', counts });
  return counts;
}

/** Consecutive records of one agent, epoch and receive time (one ingest on the source hub). */
function* sameIngest(records: readonly StoredRecord[]): Generator<StoredRecord[]> {
  let group: StoredRecord[] = [];
  for (const r of records) {
    const head = group[0];
    if (head && (head.agent !== r.agent || head.epoch !== r.epoch || head.receivedAt !== r.receivedAt)) {
      yield group;
      group = [];
    }
    group.push(r);
  }
  if (group.length > 0) yield group;
}

async function signingKeyOf(storage: HubStorage, dataDir: string): Promise<string | undefined> {
  if (storage.kind === 'postgres') return (await storage.getMeta<{ privateKeyPem: string }>(SHARED_SIGNING_KEY_META))?.privateKeyPem;
  const file = signingKeyPaths(dataDir).privateKey;
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}
