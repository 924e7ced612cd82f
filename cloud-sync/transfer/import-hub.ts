import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { VigilError, describeError } from '../../shared/errors.js';
import { SYNC_STREAMS } from '../../shared/sync-protocol.js';
import { SHARED_SIGNING_KEY_META } from '../registry/shared-signing-key.js';
import { signingKeyPaths, writeSigningKey } from '../registry/signing-key.js';
import type { HubStorage } from '../storage/hub-storage.js';
import { EXPORT_FORMAT, EXPORT_VERSION, emptyCounts, type ExportCounts, type ExportLine } from './export-format.js';

export interface ImportOptions {
  /** The target hub's data folder: on LMDB the signing key is a file there. */
  dataDir: string;
  progress?: (counts: ExportCounts) => void;
}

/**
 * Loads a `vigil hub export` file into an EMPTY hub storage (agents, models,
 * records and users none yet; a replica that started and created a signing
 * key is fine). Two passes: the first checks the whole file (header, every
 * line JSON of a known kind, the end line's counts) so a damaged or truncated
 * file is refused before anything is written; the second writes.
 */
export async function importHub(storage: HubStorage, file: string, options: ImportOptions): Promise<ExportCounts> {
  const expected = await checkFile(file);
  await refuseNonEmpty(storage);
  const counts = emptyCounts();
  for await (const { line } of readLines(file)) {
    switch (line.kind) {
      case 'header':
      case 'end':
        break;
      case 'signing-key':
        await installSigningKey(storage, options.dataDir, line.privateKeyPem);
        break;
      case 'meta':
        await storage.setMeta(line.key, line.value);
        counts.meta++;
        break;
      case 'agent': {
        const a = line.agent;
        await storage.createAgent({ id: a.id, labels: a.labels, tokenHash: a.tokenHash, tokenSalt: a.tokenSalt, createdAt: a.createdAt });
        if (a.revokedAt !== null) await storage.revokeAgent(a.id, a.revokedAt);
        // Nobody is connected to a hub that is being imported.
        await storage.updateAgentPresence(a.id, { lastSeenAt: a.lastSeenAt, connectedTo: null, software: a.software, epoch: a.epoch, models: a.models, health: a.health, skewMs: a.skewMs });
        counts.agents++;
        break;
      }
      case 'api-token':
        await storage.createApiToken(line.token);
        counts.apiTokens++;
        break;
      case 'user':
        await storage.createUser(line.user);
        counts.users++;
        break;
      case 'model':
        await storage.putModelVersion(line.version, Buffer.from(line.packageBase64, 'base64'));
        counts.models++;
        break;
      case 'deployment':
        await storage.createDeployment(line.deployment, line.targets);
        counts.deployments++;
        break;
      case 'records':
        await storage.ingest(line.agent, line.epoch, line.stream, line.records, line.receivedAt);
        counts.records += line.records.length;
        if (counts.records % 50_000 < line.records.length) options.progress?.(counts);
        break;
      case 'resolution':
        if (!(await storage.resolveEpisode(line.episode, line.resolution))) throw new VigilError('VIGIL_API_NOT_FOUND', `the export resolves episode ${line.episode}, which its records did not create`);
        counts.resolutions++;
        break;
    }
  }
  for (const key of Object.keys(expected) as Array<keyof ExportCounts>) {
    if (counts[key] !== expected[key]) throw new VigilError('VIGIL_HUB_STORAGE_FAILED', `imported ${counts[key]} ${key}, the export says ${expected[key]}`);
  }
  options.progress?.(counts);
  return counts;
}

const KINDS = new Set(['header', 'signing-key', 'meta', 'agent', 'api-token', 'user', 'model', 'deployment', 'records', 'resolution', 'end']);

async function* readLines(file: string): AsyncGenerator<{ line: ExportLine; number: number }> {
  const input = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let number = 0;
  for await (const text of input) {
    number++;
    if (text.trim() === '') continue;
    let line: ExportLine;
    try {
      line = JSON.parse(text) as ExportLine;
    } catch (err) {
      throw invalid(file, number, `not JSON (${describeError(err)})`);
    }
    if (typeof line !== 'object' || line === null || !KINDS.has((line as { kind?: string }).kind ?? '')) throw invalid(file, number, `unknown kind ${JSON.stringify((line as { kind?: unknown } | null)?.kind)}`);
    yield { line, number };
  }
}

/** The first pass: header first, end last, counts as the end line says. */
async function checkFile(file: string): Promise<ExportCounts> {
  if (!existsSync(file)) throw new VigilError('VIGIL_HUB_EXPORT_INVALID', `there is no export file ${file}`);
  const seen = emptyCounts();
  let header = false;
  let end: ExportCounts | undefined;
  for await (const { line, number } of readLines(file)) {
    if (!header) {
      if (line.kind !== 'header' || line.format !== EXPORT_FORMAT) throw invalid(file, number, `not a Vigil hub export (the first line must be its header)`);
      if (line.version > EXPORT_VERSION) throw invalid(file, number, `export format version ${line.version} is newer than this Vigil reads (${EXPORT_VERSION}); import with the Vigil version that exported it or newer`);
      header = true;
      continue;
    }
    if (end) throw invalid(file, number, 'lines after the end line');
    if (line.kind === 'end') end = line.counts;
    else if (line.kind === 'records') seen.records += line.records.length;
    else if (line.kind === 'agent') seen.agents++;
    else if (line.kind === 'api-token') seen.apiTokens++;
    else if (line.kind === 'user') seen.users++;
    else if (line.kind === 'model') seen.models++;
    else if (line.kind === 'deployment') seen.deployments++;
    else if (line.kind === 'resolution') seen.resolutions++;
    else if (line.kind === 'meta') seen.meta++;
  }
  if (!header) throw new VigilError('VIGIL_HUB_EXPORT_INVALID', `${file} is empty; it is not a Vigil hub export`);
  if (!end) throw new VigilError('VIGIL_HUB_EXPORT_INVALID', `${file} has no end line: the export was cut short (disk full, interrupted); export again`);
  for (const key of Object.keys(seen) as Array<keyof ExportCounts>) {
    if (seen[key] !== end[key]) throw new VigilError('VIGIL_HUB_EXPORT_INVALID', `${file} holds ${seen[key]} ${key} but its end line says ${end[key]}: the file is damaged; export again`);
  }
  return end;
}

async function refuseNonEmpty(storage: HubStorage): Promise<void> {
  const found: string[] = [];
  if ((await storage.listAgents()).length > 0) found.push('agents');
  if ((await storage.listModelVersions()).length > 0) found.push('model versions');
  if ((await storage.listUsers()).length > 0) found.push('users');
  for (const stream of SYNC_STREAMS) if ((await storage.countRecords(stream)) > 0) found.push(`${stream} records`);
  if (found.length > 0) {
    throw new VigilError('VIGIL_API_CONFLICT', `the target hub storage is not empty (it has ${found.join(', ')}); import into a new one (a new PostgreSQL schema or database, or an empty hub.dataDir)`);
  }
}

/** The source hub's key, so agents keep trusting packages; the target has signed nothing yet (it is empty). */
async function installSigningKey(storage: HubStorage, dataDir: string, privateKeyPem: string): Promise<void> {
  if (storage.kind === 'postgres') {
    await storage.setMeta(SHARED_SIGNING_KEY_META, { privateKeyPem, createdAt: Date.now() });
    return;
  }
  const file = signingKeyPaths(dataDir).privateKey;
  if (existsSync(file) && readFileSync(file, 'utf8') === privateKeyPem) return;
  writeSigningKey(dataDir, privateKeyPem);
}

function invalid(file: string, line: number, what: string): VigilError {
  return new VigilError('VIGIL_HUB_EXPORT_INVALID', `${file}:${line}: ${what}`);
}
