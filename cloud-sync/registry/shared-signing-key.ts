import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describeError, VigilError } from '../../shared/errors.js';
import { generateSigningKeyPair } from '../../shared/package-signature.js';
import type { HubStorage } from '../storage/hub-storage.js';
import { loadOrCreateSigningKey, signingKeyPaths, type HubSigningKey } from './signing-key.js';

/** Storage meta key of the key pair replicas share (PostgreSQL). */
export const SHARED_SIGNING_KEY_META = 'hub:signing-key';

interface StoredSigningKey {
  privateKeyPem: string;
  createdAt: number;
}

/**
 * The signing key pair of this hub. One replica (LMDB): the files in
 * `<dataDir>/keys/` (signing-key.ts). Several replicas (PostgreSQL): every
 * replica must sign with the same key, or agents would refuse packages
 * depending on which replica registered them, so the pair lives in the
 * database — created once by whichever replica starts first (or seeded from
 * an existing `<dataDir>/keys/hub-signing.key`, so a hub moved from LMDB keeps
 * its key) — and each replica writes the public key file beside it for
 * `vigil hub key` and for operators.
 */
export async function loadHubSigningKey(storage: HubStorage, dataDir: string): Promise<HubSigningKey> {
  if (storage.kind === 'lmdb') return loadOrCreateSigningKey(dataDir);
  const paths = signingKeyPaths(dataDir);
  const fromFile = existsSync(paths.privateKey) ? readFileSync(paths.privateKey, 'utf8') : undefined;
  const offered: StoredSigningKey = { privateKeyPem: fromFile ?? generateSigningKeyPair().privateKeyPem, createdAt: Date.now() };
  const stored = await storage.initMeta<StoredSigningKey>(SHARED_SIGNING_KEY_META, offered);
  let privateKey;
  try {
    privateKey = createPrivateKey(stored.privateKeyPem);
  } catch (err) {
    throw new VigilError('VIGIL_SECRET_UNAVAILABLE', `the signing key kept in the hub database (meta ${SHARED_SIGNING_KEY_META}) cannot be read as a PEM private key: ${describeError(err)}`, { cause: err });
  }
  const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  if (!existsSync(paths.publicKey) || readFileSync(paths.publicKey, 'utf8') !== publicKeyPem) writeFileSync(paths.publicKey, publicKeyPem, { mode: 0o644 });
  return { privateKey, publicKeyPem, created: stored.privateKeyPem === offered.privateKeyPem && fromFile === undefined };
}
