import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

/**
 * Model packages are signed by the hub with ed25519 over the whole package
 * file's bytes; agents verify with the hub's public key (PEM, SPKI) before they
 * read anything inside the package. The signature travels beside the package
 * (in the deploy notice and the `X-Vigil-Signature` download header), base64.
 */

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface SigningKeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
}

export function generateSigningKeyPair(): SigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export function signPackage(bytes: Uint8Array, privateKeyPem: string | KeyObject): string {
  const key = typeof privateKeyPem === 'string' ? createPrivateKey(privateKeyPem) : privateKeyPem;
  return sign(null, bytes, key).toString('base64');
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/**
 * Why a package must be refused, or ok. Checks, in order: a signature is
 * present, the sha256 of the bytes is the expected one, the signature is valid
 * for the bytes under `publicKeyPem`.
 */
export function checkPackageSignature(bytes: Uint8Array, expectedSha256: string, signatureB64: string, publicKeyPem: string | KeyObject): SignatureCheck {
  if (!signatureB64) return { ok: false, reason: 'the package is unsigned' };
  const actual = sha256Hex(bytes);
  if (actual !== expectedSha256) return { ok: false, reason: `the package's sha256 is ${actual}, the hub announced ${expectedSha256} (damaged or tampered in transit)` };
  let key: KeyObject;
  try {
    key = typeof publicKeyPem === 'string' ? createPublicKey(publicKeyPem) : publicKeyPem;
  } catch (err) {
    return { ok: false, reason: `the hub public key could not be read: ${(err as Error).message}` };
  }
  const signature = Buffer.from(signatureB64, 'base64');
  if (signature.length !== 64) return { ok: false, reason: 'the signature is not an ed25519 signature (64 bytes)' };
  if (!verify(null, bytes, key, signature)) return { ok: false, reason: 'the signature does not match the package (tampered, or signed by another hub)' };
  return { ok: true };
}
