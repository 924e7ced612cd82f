import '../sources/opcua/node-opcua-logs.js';
import { writeFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { describeError, VigilError } from '../../shared/errors.js';
import { OPCUA_SECURITY_MODES, OPCUA_SECURITY_POLICIES, type OpcuaSourceConfig } from '../config/schema.js';
import { browseAddressSpace, isNumericDataType, type BrowsedVariable } from '../sources/opcua/browse.js';
import { connectClient, disposeClient } from '../sources/opcua/connection.js';
import { certificateFailure, findRejectedCertificate, trustCommand } from '../sources/opcua/pki.js';

export interface BrowseCommandOptions {
  depth: number;
  root: string;
  securityMode: string;
  securityPolicy?: string;
  user?: string;
  passwordFile?: string;
  passwordEnv?: string;
  pkiDir: string;
  out?: string;
  source?: string;
}

const TAG_NAME_CHARS = /[^A-Za-z0-9_.\-/:]/g;

/** A tag name from the browse path: PumpStation.Pump1.Temperature. */
export function tagNameFromPath(path: string[]): string {
  return path.map((p) => p.replace(TAG_NAME_CHARS, '_')).join('.');
}

interface SkeletonTag {
  name: string;
  source: string;
  nodeId: string;
  description: string;
}

export function skeletonTags(variables: BrowsedVariable[], source: string): SkeletonTag[] {
  const used = new Map<string, number>();
  return variables
    .filter((v) => isNumericDataType(v.dataType))
    .map((v) => {
      const base = tagNameFromPath(v.path) || 'tag';
      const n = (used.get(base) ?? 0) + 1;
      used.set(base, n);
      return { name: n === 1 ? base : `${base}_${n}`, source, nodeId: v.nodeId, description: `${v.displayName} (${v.dataType})` };
    });
}

function csvCell(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function renderSkeleton(tags: SkeletonTag[], format: 'yaml' | 'csv', header: string): string {
  if (format === 'csv') {
    const lines = ['name,source,nodeId,samplingIntervalMs,unit,description'];
    for (const t of tags) lines.push([t.name, t.source, t.nodeId, '', '', t.description].map(csvCell).join(','));
    return `${lines.join('\n')}\n`;
  }
  const comment = header
    .split('\n')
    .map((l) => `# ${l}`)
    .join('\n');
  return `${comment}\n${stringify({ tags })}`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  '));
}

/**
 * `vigil browse <endpoint>`: lists the variables under a node with their stable
 * nsu= node id, data type and display name, and optionally writes a tag file
 * skeleton (YAML or CSV) that `vigil check` accepts. Progress goes to stderr
 * so stdout stays a clean table.
 */
export async function runBrowse(endpoint: string, opts: BrowseCommandOptions, out: (line: string) => void): Promise<number> {
  const err = (line: string) => process.stderr.write(`${line}\n`);
  if (!/^opc\.tcp:\/\/.+/.test(endpoint)) {
    err(`vigil browse: "${endpoint}" is not an OPC UA endpoint; write opc.tcp://host:port`);
    return 1;
  }
  if (!(OPCUA_SECURITY_MODES as readonly string[]).includes(opts.securityMode)) {
    err(`vigil browse: --security-mode must be one of ${OPCUA_SECURITY_MODES.join(', ')} (got ${opts.securityMode})`);
    return 1;
  }
  if (opts.securityPolicy && !(OPCUA_SECURITY_POLICIES as readonly string[]).includes(opts.securityPolicy)) {
    err(`vigil browse: --security-policy must be one of ${OPCUA_SECURITY_POLICIES.join(', ')} (got ${opts.securityPolicy})`);
    return 1;
  }
  const format = opts.out ? ({ '.yaml': 'yaml', '.yml': 'yaml', '.csv': 'csv' } as const)[extname(opts.out).toLowerCase()] : undefined;
  if (opts.out && !format) {
    err(`vigil browse: --out must end in .yaml, .yml or .csv (got ${opts.out})`);
    return 1;
  }
  const user: OpcuaSourceConfig['user'] = opts.user
    ? { type: 'username', username: opts.user, passwordFile: opts.passwordFile, passwordEnv: opts.passwordEnv }
    : { type: 'anonymous' };
  const settings = {
    endpoint,
    securityMode: opts.securityMode as OpcuaSourceConfig['securityMode'],
    securityPolicy: opts.securityPolicy as OpcuaSourceConfig['securityPolicy'],
    user,
    connectTimeoutMs: 15_000,
    sessionTimeoutMs: 60_000,
  };

  let conn;
  try {
    conn = await connectClient(settings, opts.pkiDir, 'browse');
  } catch (e) {
    if (certificateFailure(e)) {
      const thumbprint = e instanceof VigilError ? (e.details.thumbprint as string | undefined) : undefined;
      const file = findRejectedCertificate(opts.pkiDir, thumbprint);
      err(`VIGIL_OPCUA_CERT_UNTRUSTED: the certificate of ${endpoint} is not trusted; it was saved as ${file ?? join(opts.pkiDir, 'rejected')}`);
      err(file ? `to trust it: ${trustCommand(opts.pkiDir, file)}` : `move it to ${join(opts.pkiDir, 'trusted', 'certs')}`);
    } else {
      err(`vigil browse: ${describeError(e)}`);
    }
    return 1;
  }

  try {
    const progressEvery = process.stderr.isTTY ? 1 : 1000;
    let lastShown = 0;
    const variables = await browseAddressSpace(conn.session, {
      root: opts.root,
      depth: opts.depth,
      onProgress: (visited) => {
        if (visited - lastShown < progressEvery) return;
        lastShown = visited;
        if (process.stderr.isTTY) process.stderr.write(`\rbrowsing… ${visited} nodes visited`);
        else err(`browsing… ${visited} nodes visited`);
      },
    });
    if (process.stderr.isTTY && lastShown > 0) process.stderr.write('\n');

    if (variables.length === 0) out(`no variables found under ${opts.root} within depth ${opts.depth}`);
    else for (const line of table([['NODE ID', 'DATA TYPE', 'DISPLAY NAME'], ...variables.map((v) => [v.nodeId, v.dataType, v.displayName])])) out(line);

    if (opts.out && format) {
      const tags = skeletonTags(variables, opts.source ?? 'plc1');
      const skipped = variables.length - tags.length;
      const header = [
        `Tag file skeleton written by vigil browse ${endpoint} (root ${opts.root}, depth ${opts.depth}).`,
        `Rename tags as you like; ${skipped} non-numeric variable(s) were left out (only numbers and Booleans can be tags).`,
      ].join('\n');
      writeFileSync(resolve(opts.out), renderSkeleton(tags, format, header));
      err(`wrote ${tags.length} tags to ${opts.out}${skipped ? ` (${skipped} non-numeric variables left out)` : ''}`);
    }
    return 0;
  } catch (e) {
    err(`vigil browse: ${describeError(e)}`);
    return 1;
  } finally {
    await disposeClient(conn, true);
  }
}
