import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { OPCUACertificateManager } from 'node-opcua';

/**
 * The agent's client PKI, laid out as node-opcua expects it:
 *   <pkiDir>/own/certs/client_certificate.pem   the agent's certificate (created on first connect)
 *   <pkiDir>/own/private/private_key.pem
 *   <pkiDir>/trusted/certs/                     server certificates the operator trusts
 *   <pkiDir>/rejected/                          server certificates seen but not trusted
 * Unknown server certificates are never accepted automatically.
 *
 * A fresh manager is opened for every connection attempt (without file
 * watchers): the folder is re-read each time, so a certificate the operator
 * moved to trusted/ is honoured at the next retry, and no inotify watches leak.
 */
export async function openClientPki(pkiDir: string): Promise<OPCUACertificateManager> {
  mkdirSync(pkiDir, { recursive: true });
  const manager = new OPCUACertificateManager({
    rootFolder: pkiDir,
    automaticallyAcceptUnknownCertificate: false,
    disableFileWatchers: true,
    keySize: 2048,
  });
  await manager.initialize();
  return manager;
}

const CERT_FAILURE = /certificate verification failed with err (Bad\w+)/i;

/** The OPC UA status name when a connection failed because of the server's certificate, else undefined. */
export function certificateFailure(err: unknown): string | undefined {
  const message = err instanceof Error ? err.message : String(err);
  const m = CERT_FAILURE.exec(message);
  if (m) return m[1];
  if (/BadCertificateUntrusted/.test(message)) return 'BadCertificateUntrusted';
  return undefined;
}

export function thumbprintOf(certificate: Buffer | Buffer[] | undefined): string | undefined {
  const first = Array.isArray(certificate) ? certificate[0] : certificate;
  if (!first || first.length === 0) return undefined;
  return createHash('sha1').update(first).digest('hex');
}

/**
 * The file node-opcua wrote into rejected/ for this server certificate. Its name
 * carries the SHA-1 thumbprint; without a thumbprint the newest file is taken.
 */
export function findRejectedCertificate(pkiDir: string, thumbprint?: string): string | undefined {
  const dir = join(pkiDir, 'rejected');
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => /\.(pem|der)$/i.test(f));
  } catch {
    return undefined;
  }
  if (thumbprint) {
    const match = files.find((f) => f.toLowerCase().includes(thumbprint.toLowerCase()));
    if (match) return join(dir, match);
  }
  const newest = files
    .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t)[0];
  return newest ? join(dir, newest.f) : undefined;
}

export function trustedCertsDir(pkiDir: string): string {
  return join(pkiDir, 'trusted', 'certs');
}

/** The one-line instruction an operator follows to trust a rejected server certificate. */
export function trustCommand(pkiDir: string, rejectedFile: string): string {
  return `mv '${rejectedFile}' '${trustedCertsDir(pkiDir)}/'`;
}
