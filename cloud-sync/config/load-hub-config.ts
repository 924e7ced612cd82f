import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { VigilError } from '../../shared/errors.js';
import { parseYamlWithPositions, type KeyPath, type PositionTarget } from '../../shared/yaml-positions.js';
import { ConfigError, type ConfigIssue } from '../../agent/config/config-error.js';
import { explainZodIssues, formatPath } from '../../agent/config/explain-zod-issues.js';
import { HubConfigSchema, defaultHubId, type HubConfig } from './hub-config-schema.js';

export { ConfigError } from '../../agent/config/config-error.js';

/**
 * Loads hub.yaml: validated, defaults applied, relative paths resolved from the
 * file's folder (not the working directory, which differs between a shell and
 * systemd). Throws ConfigError with every problem (file, line, column, what to
 * write), or VIGIL_CONFIG_NOT_FOUND when the file cannot be read.
 */
export async function loadHubConfig(file: string): Promise<HubConfig> {
  const configFile = resolve(file);
  let text: string;
  try {
    text = await readFile(configFile, 'utf8');
  } catch (cause) {
    throw new VigilError('VIGIL_CONFIG_NOT_FOUND', `cannot read the hub configuration file ${configFile}: ${errnoWords(cause)}`, { cause });
  }
  const yaml = parseYamlWithPositions(text.replace(/^\uFEFF/, ''));
  const issues: ConfigIssue[] = [];
  const push = (path: KeyPath, message: string, target: PositionTarget = 'value', hint?: string) =>
    issues.push({ file: configFile, ...yaml.positionOf(path, target), path: formatPath(path), message, ...(hint ? { hint } : {}) });

  if (yaml.errors.length > 0) {
    throw new ConfigError(configFile, yaml.errors.map((e) => ({ file: configFile, line: e.line, column: e.column, path: '', message: e.message })));
  }
  // An empty file is a hub on every default, as `vigil hub` with one line needs.
  const parsed = HubConfigSchema.safeParse(yaml.value ?? {});
  if (!parsed.success) {
    for (const e of explainZodIssues(HubConfigSchema, yaml.value, parsed.error.issues)) push(e.path, e.message, e.target, e.hint);
    throw new ConfigError(configFile, issues);
  }

  const baseDir = dirname(configFile);
  const data = parsed.data;
  const tls = data.http.tls && { certFile: resolve(baseDir, data.http.tls.certFile), keyFile: resolve(baseDir, data.http.tls.keyFile) };
  if (tls) {
    // A missing certificate is found now, with its line, rather than as a listen failure.
    for (const key of ['certFile', 'keyFile'] as const) {
      try {
        await readFile(tls[key]);
      } catch (cause) {
        push(['http', 'tls', key], `cannot read ${tls[key]}: ${errnoWords(cause)}`, 'value', "paths are relative to the folder of this configuration file; the hub's user must be able to read them");
      }
    }
    if (issues.length > 0) throw new ConfigError(configFile, issues);
  }
  const storage = data.storage.type === 'postgres' && data.storage.passwordFile !== undefined ? { ...data.storage, passwordFile: resolve(baseDir, data.storage.passwordFile) } : data.storage;
  if (storage.type === 'postgres' && storage.passwordFile !== undefined) {
    try {
      await readFile(storage.passwordFile);
    } catch (cause) {
      push(['storage', 'passwordFile'], `cannot read ${storage.passwordFile}: ${errnoWords(cause)}`, 'value', "paths are relative to the folder of this configuration file; the hub's user must be able to read it");
      throw new ConfigError(configFile, issues);
    }
  }
  return {
    file: configFile,
    hub: { id: data.hub.id ?? defaultHubId(), dataDir: resolve(baseDir, data.hub.dataDir) },
    http: { host: data.http.host, port: data.http.port, maxBodyBytes: data.http.maxBodyBytes, ...(tls ? { tls } : {}) },
    storage,
    sync: data.sync,
    log: data.log,
    web: data.web,
    digest: data.digest,
  };
}

function errnoWords(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'the file does not exist';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'this is a folder, not a file';
  return code ?? String(err);
}
