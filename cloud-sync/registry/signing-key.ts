import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { describeError, VigilError } from '../../shared/errors.js';
import { generateSigningKeyPair } from '../../shared/package-signature.js';

/**
 * The hub's ed25519 key pair, which signs every uploaded model package. It is
 * created on the first start under `<dataDir>/keys/`: `hub-signing.key`
 * (PKCS8 PEM, mode 0600) and `hub-signing.pub` (SPKI PEM, what agents are
 * configured with as `hub.publicKeyFile`). Losing the private key means every
 * agent must be given a new public key, so it is written durably (fsync, then
 * rename) and never regenerated while the file exists.
 */
export const SIGNING_KEY_FILE = 'hub-signing.key';
export const PUBLIC_KEY_FILE = 'hub-signing.pub';

export interface HubSigningKey {
  privateKey: KeyObject;
  publicKeyPem: string;
  /** True when this call created the key pair. */
  created: boolean;
}

export function signingKeyPaths(dataDir: string): { dir: string; privateKey: string; publicKey: string } {
  const dir = join(dataDir, 'keys');
  return { dir, privateKey: join(dir, SIGNING_KEY_FILE), publicKey: join(dir, PUBLIC_KEY_FILE) };
}

/**
 * Loads the key pair, or creates it when there is no private key yet. The
 * public key file is always rewritten from the private key when it is missing
 * or differs: the private key is the truth, and a stale .pub would make every
 * agent refuse every package.
 */
export function loadOrCreateSigningKey(dataDir: string): HubSigningKey {
  const paths = signingKeyPaths(dataDir);
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });

  let created = false;
  if (!existsSync(paths.privateKey)) {
    writeDurably(paths.privateKey, generateSigningKeyPair().privateKeyPem, 0o600);
    created = true;
  }
  refuseLoosePermissions(paths.privateKey);

  const privateKey = readPrivateKey(paths.privateKey);
  const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  const storedPublic = existsSync(paths.publicKey) ? readFileSync(paths.publicKey, 'utf8') : undefined;
  if (storedPublic !== publicKeyPem) writeDurably(paths.publicKey, publicKeyPem, 0o644);
  return { privateKey, publicKeyPem, created };
}

/**
 * Like ssh with an unprotected identity file: a private key others can read
 * may already be copied, and packages signed with it prove nothing. Refusing
 * to start makes the operator fix it (or replace the key) instead of missing a
 * warning in the log. POSIX modes mean nothing on Windows.
 */
function refuseLoosePermissions(file: string): void {
  if (process.platform === 'win32') return;
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new VigilError(
      'VIGIL_SECRET_UNAVAILABLE',
      `the hub's signing key ${file} is accessible to other users (mode ${mode.toString(8).padStart(4, '0')}); the hub refuses to sign with it. Run \`chmod 600 ${file}\`, or delete the keys folder to create a new key pair (then give agents the new public key)`,
      { details: { file, mode } },
    );
  }
}

function readPrivateKey(file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new VigilError('VIGIL_SECRET_UNAVAILABLE', `the hub's signing key ${file} cannot be read as a PEM private key: ${describeError(err)}`, { cause: err, details: { file } });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new VigilError('VIGIL_SECRET_UNAVAILABLE', `the hub's signing key ${file} is a ${key.asymmetricKeyType ?? 'unknown'} key; the hub signs with ed25519`, { details: { file } });
  }
  return key;
}

/**
 * Replaces the key pair with `privateKeyPem` (a hub moved here by `vigil hub
 * import`, so its agents keep trusting its packages). The public key file is
 * rewritten from it at the next load.
 */
export function writeSigningKey(dataDir: string, privateKeyPem: string): void {
  const paths = signingKeyPaths(dataDir);
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  writeDurably(paths.privateKey, privateKeyPem, 0o600);
  rmSync(paths.publicKey, { force: true });
}

/** Temporary file, fsync, rename: a crash never leaves half a key under the real name. */
function writeDurably(file: string, text: string, mode: number): void {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    const fd = openSync(temporary, 'w', mode);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // The umask can only remove bits; chmod makes the mode exact for the public key too.
    chmodSync(temporary, mode);
    renameSync(temporary, file);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw new VigilError('VIGIL_HUB_STORAGE_FAILED', `cannot write ${file}: ${describeError(err)}`, { cause: err, details: { file } });
  }
}
