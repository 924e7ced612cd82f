import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MessageSecurityMode, SecurityPolicy, UserTokenType, type UserIdentityInfo } from 'node-opcua';
import { VigilError } from '../../../shared/errors.js';
import type { OpcuaSourceConfig } from '../../config/schema.js';
import { readSecret } from '../../config/secrets.js';

export interface ChannelSecurity {
  securityMode: MessageSecurityMode;
  securityPolicy: SecurityPolicy;
}

/** Message security of a source; the policy defaults to Basic256Sha256 when signing. */
export function channelSecurity(config: Pick<OpcuaSourceConfig, 'securityMode' | 'securityPolicy'>): ChannelSecurity {
  const securityMode = MessageSecurityMode[config.securityMode];
  if (config.securityMode === 'None') return { securityMode, securityPolicy: SecurityPolicy.None };
  const policy = config.securityPolicy ?? 'Basic256Sha256';
  return { securityMode, securityPolicy: SecurityPolicy[policy] };
}

const READ_ERRORS: Record<string, string> = {
  ENOENT: 'file not found',
  EACCES: "permission denied for the agent's user",
  EISDIR: 'a folder, not a file',
};

function readFileFor(path: string, what: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const reason = code ? `${code}${READ_ERRORS[code] ? ` (${READ_ERRORS[code]})` : ''}` : String(cause);
    throw new VigilError('VIGIL_SECRET_UNAVAILABLE', `cannot read the ${what} ${path}: ${reason}; check ${key}`, { cause });
  }
}

/**
 * Reads and checks an X.509 user identity. Problems a server would only report
 * as an opaque BadUserSignatureInvalid or a decoder error (a key file that is
 * not a key, or the key of another certificate) are named here, before any
 * round trip, with the file to fix.
 */
function certificateIdentity(user: Extract<OpcuaSourceConfig['user'], { type: 'certificate' }>): UserIdentityInfo {
  const raw = readFileFor(user.certificateFile, 'user certificate', 'certificateFile');
  let certificate: X509Certificate;
  try {
    // PEM or DER; the session wants DER.
    certificate = new X509Certificate(raw);
  } catch (cause) {
    throw new VigilError('VIGIL_SECRET_UNAVAILABLE', `the user certificate ${user.certificateFile} is not a PEM or DER X.509 certificate; check certificateFile`, { cause });
  }
  const keyBytes = readFileFor(user.privateKeyFile, 'user private key', 'privateKeyFile');
  let key: KeyObject;
  try {
    key = keyBytes.includes('-----BEGIN') ? createPrivateKey(keyBytes) : createPrivateKey({ key: keyBytes, format: 'der', type: 'pkcs8' });
  } catch (cause) {
    const why = /passphrase|encrypted/i.test(String(cause)) ? 'it is encrypted; store it without a passphrase and restrict the file permissions instead' : 'it cannot be decoded';
    throw new VigilError('VIGIL_SECRET_UNAVAILABLE', `the user private key ${user.privateKeyFile} is not an unencrypted PEM or DER private key (${why}); check privateKeyFile`, { cause });
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new VigilError('VIGIL_SECRET_UNAVAILABLE', `the user private key ${user.privateKeyFile} does not belong to the user certificate ${user.certificateFile}; check privateKeyFile`);
  }
  // node-opcua signs with a PEM string; PKCS#8 covers the PKCS#1 and DER inputs too.
  const privateKey = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { type: UserTokenType.Certificate, certificateData: certificate.raw, privateKey };
}

/**
 * The identity presented when the session is activated. Read at every
 * connection attempt so a rotated password, certificate or key file is picked
 * up without a restart.
 */
export function userIdentity(user: OpcuaSourceConfig['user']): UserIdentityInfo {
  switch (user.type) {
    case 'anonymous':
      return { type: UserTokenType.Anonymous };
    case 'username':
      return {
        type: UserTokenType.UserName,
        userName: user.username,
        password: readSecret({ file: user.passwordFile, env: user.passwordEnv }, `OPC UA password of user ${user.username}`),
      };
    case 'certificate':
      return certificateIdentity(user);
  }
}
