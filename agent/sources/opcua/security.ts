import { X509Certificate } from 'node:crypto';
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

function readFileFor(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new VigilError('VIGIL_SECRET_UNAVAILABLE', `cannot read the ${what} ${path}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { cause });
  }
}

/**
 * The identity presented when the session is activated. Read at every
 * connection attempt so a rotated password file is picked up without a restart.
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
    case 'certificate': {
      const raw = readFileFor(user.certificateFile, 'user certificate');
      // Accept PEM or DER; the session wants DER.
      const der = raw.includes('-----BEGIN') ? new X509Certificate(raw).raw : raw;
      const privateKey = readFileFor(user.privateKeyFile, 'user private key').toString('utf8');
      return { type: UserTokenType.Certificate, certificateData: der, privateKey };
    }
  }
}
