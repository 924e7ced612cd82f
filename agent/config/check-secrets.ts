import { existsSync } from 'node:fs';
import type { KeyPath } from '../../shared/yaml-positions.js';
import { isSecretKey } from './explain-zod-issues.js';
import type { ResolvedConfig } from './schema.js';

export interface SecretFinding {
  path: KeyPath;
  message: string;
  hint: string;
}

const INLINE_HINT = 'put the secret in a file readable only by the vigil user (passwordFile: /etc/vigil/plc1.password) or in an environment variable (passwordEnv: PLC1_PASSWORD)';

/**
 * Keys such as `password:` or `token:` anywhere in a file. Reported on their own
 * (not only as unknown keys) because a secret in a configuration file ends up in
 * backups and version control; the value is never repeated in the message.
 */
export function findInlineSecrets(value: unknown, path: KeyPath = []): SecretFinding[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => findInlineSecrets(item, [...path, i]));
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) =>
    isSecretKey(key)
      ? [{ path: [...path, key], message: `passwords are never written inline: use passwordFile or passwordEnv instead of "${key}"`, hint: INLINE_HINT }]
      : findInlineSecrets(child, [...path, key]),
  );
}

/**
 * Secret and certificate files that are missing on this machine, and secret
 * environment variables that are not set. These are warnings: the file may be
 * installed later, and at run time only the source that needs it fails.
 */
export function missingSecretWarnings(config: ResolvedConfig): SecretFinding[] {
  const out: SecretFinding[] = [];
  const file = (path: KeyPath, what: string, value: string | undefined) => {
    if (value && !existsSync(value)) out.push({ path, message: `the ${what} file ${value} does not exist on this machine`, hint: `create it before starting the agent${what.includes('password') ? ' (the password on its first line, readable only by the vigil user)' : ''}` });
  };
  const env = (path: KeyPath, what: string, name: string | undefined) => {
    if (name && !process.env[name]) out.push({ path, message: `the environment variable ${name} (${what}) is not set here`, hint: 'set it in the service environment, e.g. an EnvironmentFile= of the systemd unit' });
  };
  config.sources.forEach((source, i) => {
    const at = (...keys: string[]): KeyPath => ['sources', i, ...keys];
    if (source.type === 'opcua') {
      const user = source.user;
      if (user.type === 'username') {
        file(at('user', 'passwordFile'), 'password', user.passwordFile);
        env(at('user', 'passwordEnv'), 'password', user.passwordEnv);
      } else if (user.type === 'certificate') {
        file(at('user', 'certificateFile'), 'user certificate', user.certificateFile);
        file(at('user', 'privateKeyFile'), 'user private key', user.privateKeyFile);
      }
    } else {
      file(at('passwordFile'), 'broker password', source.passwordFile);
      env(at('passwordEnv'), 'broker password', source.passwordEnv);
      file(at('tls', 'caFile'), 'CA certificate', source.tls?.caFile);
      file(at('tls', 'certFile'), 'client certificate', source.tls?.certFile);
      file(at('tls', 'keyFile'), 'client private key', source.tls?.keyFile);
    }
  });
  return out;
}
