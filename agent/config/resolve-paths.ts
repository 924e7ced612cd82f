import { join, resolve } from 'node:path';
import type { ResolvedConfig, SourceConfig } from './schema.js';

/**
 * Makes every path in the configuration absolute, relative to the folder of the
 * configuration file — not to the working directory, which differs between a
 * shell and the systemd service.
 */
export function resolvePaths(config: ResolvedConfig, baseDir: string): ResolvedConfig {
  const dataDir = resolve(baseDir, config.agent.dataDir);
  const abs = (p: string | undefined) => (p === undefined ? undefined : resolve(baseDir, p));
  const sources = config.sources.map((source): SourceConfig => {
    if (source.type === 'opcua') {
      const user = source.user;
      return {
        ...source,
        pkiDir: source.pkiDir === undefined ? join(dataDir, 'pki') : resolve(baseDir, source.pkiDir),
        user:
          user.type === 'username'
            ? { ...user, passwordFile: abs(user.passwordFile) }
            : user.type === 'certificate'
              ? { ...user, certificateFile: resolve(baseDir, user.certificateFile), privateKeyFile: resolve(baseDir, user.privateKeyFile) }
              : user,
      };
    }
    return {
      ...source,
      passwordFile: abs(source.passwordFile),
      tls: source.tls && { ...source.tls, caFile: abs(source.tls.caFile), certFile: abs(source.tls.certFile), keyFile: abs(source.tls.keyFile) },
    };
  });
  const modelsDir = config.models.dir ? resolve(baseDir, config.models.dir) : join(dataDir, 'models');
  const hub = config.hub && { ...config.hub, tokenFile: abs(config.hub.tokenFile), publicKeyFile: resolve(baseDir, config.hub.publicKeyFile), caFile: abs(config.hub.caFile) };
  return { ...config, agent: { ...config.agent, dataDir }, models: { ...config.models, dir: modelsDir }, sources, ...(hub ? { hub } : {}) };
}
