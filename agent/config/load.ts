import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { z } from 'zod';
import { VigilError } from '../../shared/errors.js';
import { parseYamlWithPositions, type KeyPath, type Position, type PositionTarget } from '../../shared/yaml-positions.js';
import { ConfigError, isError, type ConfigIssue } from './config-error.js';
import { parseCsvTags } from './csv-tags.js';
import { explainZodIssues, formatPath } from './explain-zod-issues.js';
import { checkTags, type TagEntry } from './check-tags.js';
import { findInlineSecrets, missingSecretWarnings } from './check-secrets.js';
import { resolvePaths } from './resolve-paths.js';
import { AgentConfigSchema, SourceSchema, type ResolvedConfig, type SourceConfig } from './schema.js';

export { ConfigError, type ConfigIssue } from './config-error.js';

export interface CheckResult {
  /** Present when the configuration has no errors (warnings allowed). */
  config?: ResolvedConfig;
  /** Every error and warning found, in all files. */
  issues: ConfigIssue[];
  /** Absolute paths of the files read: the configuration file, then its tag files. */
  files: string[];
}

/**
 * Loads the agent configuration and its tag files: validated, defaults applied,
 * relative paths made absolute, tags split by source type. Throws ConfigError
 * with every problem found (each with file, line and column), or a VigilError
 * VIGIL_CONFIG_NOT_FOUND when the configuration file itself cannot be read.
 */
export async function loadConfig(file: string): Promise<ResolvedConfig> {
  const absolute = resolve(file);
  try {
    await readFile(absolute);
  } catch (cause) {
    throw new VigilError('VIGIL_CONFIG_NOT_FOUND', `cannot read the configuration file ${absolute}: ${errnoWords(cause)}`, { cause });
  }
  const result = await checkConfig(absolute);
  if (!result.config) throw new ConfigError(absolute, result.issues);
  return result.config;
}

// The main file's own keys; sources and tags are validated one by one so that a
// broken entry does not hide the problems (or the names) of the others.
const MainSchema = AgentConfigSchema.extend({
  sources: z.array(z.unknown()).default([]),
  tags: z.array(z.unknown()).default([]),
});

/** Validates a configuration without connecting anywhere. Never throws for problems in the files. */
export async function checkConfig(file: string): Promise<CheckResult> {
  const configFile = resolve(file);
  const baseDir = dirname(configFile);
  const issues: ConfigIssue[] = [];
  const files = [configFile];

  let text: string;
  try {
    text = await readFile(configFile, 'utf8');
  } catch (cause) {
    issues.push({ file: configFile, line: 1, column: 1, path: '', message: `cannot read the configuration file: ${errnoWords(cause)}` });
    return { issues, files };
  }
  const yaml = parseYamlWithPositions(text.replace(/^\uFEFF/, ''));
  const at = (path: KeyPath, target: PositionTarget = 'value'): Position => yaml.positionOf(path, target);
  const push = (path: KeyPath, message: string, target: PositionTarget = 'value', hint?: string, severity?: 'warning') =>
    issues.push({ file: configFile, ...at(path, target), path: formatPath(path), message, ...(hint ? { hint } : {}), ...(severity ? { severity } : {}) });

  if (yaml.errors.length > 0) {
    for (const e of yaml.errors) issues.push({ file: configFile, line: e.line, column: e.column, path: '', message: e.message });
    return { issues, files };
  }
  if (yaml.value === undefined || yaml.value === null) {
    push([], 'the file is empty; expected the agent configuration (agent:, sources:, tags:)', 'value', 'start from config/agent.example.yaml');
    return { issues, files };
  }
  for (const secret of findInlineSecrets(yaml.value)) push(secret.path, secret.message, 'key', secret.hint);

  const main = MainSchema.safeParse(yaml.value);
  if (!main.success) {
    for (const e of explainZodIssues(MainSchema, yaml.value, main.error.issues)) push(e.path, e.message, e.target, e.hint);
  }

  const rawSources = arrayAt(yaml.value, 'sources');
  const sources: SourceConfig[] = [];
  const sourceTypes = new Map<string, 'opcua' | 'mqtt'>();
  rawSources.forEach((raw, i) => {
    const parsed = SourceSchema.safeParse(raw);
    if (parsed.success) sources.push(parsed.data);
    else for (const e of explainZodIssues(SourceSchema, raw, parsed.error.issues, ['sources', i])) push(['sources', i, ...e.path], e.message, e.target, e.hint);
    // Even a source with errors lends its name and type to the tag checks, so
    // its tags are not all reported as "unknown source" on top.
    const rec = raw as { name?: unknown; type?: unknown } | null;
    if (typeof rec?.name !== 'string') return;
    if (sourceTypes.has(rec.name)) {
      const first = rawSources.findIndex((s) => (s as { name?: unknown } | null)?.name === rec.name);
      push(['sources', i, 'name'], `duplicate source name ${rec.name}; first defined at line ${at(['sources', first, 'name']).line}`, 'value', 'every source needs its own name');
    } else if (rec.type === 'opcua' || rec.type === 'mqtt') {
      sourceTypes.set(rec.name, rec.type);
    }
  });

  const entries: TagEntry[] = arrayAt(yaml.value, 'tags').map((data, i) => ({
    data,
    file: configFile,
    index: i,
    locate: (sub, target) => at(['tags', i, ...sub], target),
  }));

  const tagFileList = main.success ? main.data.tagFiles : arrayAt(yaml.value, 'tagFiles').filter((f): f is string => typeof f === 'string');
  const seenTagFiles = new Set<string>();
  for (const [i, tagFile] of tagFileList.entries()) {
    const absolute = resolve(baseDir, tagFile);
    if (seenTagFiles.has(absolute)) {
      push(['tagFiles', i], `the tag file ${tagFile} is listed twice`, 'value', 'remove one of the entries');
      continue;
    }
    seenTagFiles.add(absolute);
    const ext = extname(tagFile).toLowerCase();
    if (!['.yaml', '.yml', '.csv'].includes(ext)) {
      push(['tagFiles', i], `expected a .yaml, .yml or .csv tag file; found "${tagFile}"`);
      continue;
    }
    let content: string;
    try {
      content = await readFile(absolute, 'utf8');
    } catch (cause) {
      push(['tagFiles', i], `cannot read the tag file ${tagFile} (${absolute}): ${errnoWords(cause)}`, 'value', 'paths in tagFiles are relative to the folder of this configuration file');
      continue;
    }
    files.push(absolute);
    const read = ext === '.csv' ? readCsvTagFile(absolute, content) : readYamlTagFile(absolute, content);
    issues.push(...read.issues);
    entries.push(...read.entries);
  }

  const checked = checkTags(entries, sourceTypes);
  issues.push(...checked.issues);

  const unique = dedupe(issues);
  if (unique.some(isError) || !main.success) return { issues: unique, files };

  const config = resolvePaths(
    {
      file: configFile,
      agent: main.data.agent,
      http: main.data.http,
      log: main.data.log,
      pipeline: main.data.pipeline,
      models: { ...main.data.models, dir: main.data.models.dir ?? '' },
      store: main.data.store,
      sources,
      opcuaTags: checked.opcuaTags,
      mqttTags: checked.mqttTags,
      ...(main.data.hub ? { hub: main.data.hub } : {}),
    },
    baseDir,
  );
  for (const w of missingSecretWarnings(config)) push(w.path, w.message, 'value', w.hint, 'warning');
  return { config, issues: dedupe(issues), files };
}

function readYamlTagFile(file: string, text: string): { entries: TagEntry[]; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const yaml = parseYamlWithPositions(text.replace(/^\uFEFF/, ''));
  const at = (path: KeyPath, target: PositionTarget = 'value') => yaml.positionOf(path, target);
  if (yaml.errors.length > 0) {
    return { entries: [], issues: yaml.errors.map((e) => ({ file, line: e.line, column: e.column, path: '', message: e.message })) };
  }
  const value = yaml.value;
  if (value === undefined || value === null) return { entries: [], issues };
  for (const secret of findInlineSecrets(value)) {
    // Tags are shown as tags[i] whether the file is a plain list or has a tags key.
    const shown = Array.isArray(value) ? ['tags', ...secret.path] : secret.path;
    issues.push({ file, ...at(secret.path, 'key'), path: formatPath(shown), message: secret.message, hint: secret.hint });
  }
  // A tag file is either a plain list of tags or a map with a `tags` list.
  let list: unknown[];
  let prefix: KeyPath;
  if (Array.isArray(value)) {
    list = value;
    prefix = [];
  } else if (typeof value === 'object' && Array.isArray((value as { tags?: unknown }).tags)) {
    list = (value as { tags: unknown[] }).tags;
    prefix = ['tags'];
    for (const key of Object.keys(value)) {
      if (key !== 'tags') issues.push({ file, ...at([key], 'key'), path: key, message: `unknown key "${key}" in a tag file; expected only "tags"`, hint: 'a tag file is a list of tags, or a map with one key, tags, holding that list' });
    }
  } else {
    issues.push({ file, ...at([]), path: '', message: 'expected a list of tags (lines starting with "- ") or a map with a "tags" list', hint: 'see config/tags.example.yaml' });
    return { entries: [], issues };
  }
  const entries = list.map((data, i): TagEntry => ({ data, file, index: i, locate: (sub, target) => at([...prefix, i, ...sub], target) }));
  return { entries, issues };
}

function readCsvTagFile(file: string, text: string): { entries: TagEntry[]; issues: ConfigIssue[] } {
  const csv = parseCsvTags(text);
  const issues = csv.issues.map((i): ConfigIssue => ({ file, ...i }));
  const entries = csv.rows.map((row): TagEntry => ({
    data: row.tag,
    file,
    index: row.index,
    locate: (sub) => ({ line: row.line, column: row.columnOf(sub) }),
  }));
  return { entries, issues };
}

function arrayAt(value: unknown, key: string): unknown[] {
  const v = (value as Record<string, unknown> | null)?.[key];
  return Array.isArray(v) ? v : [];
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.file}:${i.line}:${i.column}:${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function errnoWords(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'the file does not exist';
  if (code === 'EACCES') return 'permission denied (the vigil user cannot read it)';
  if (code === 'EISDIR') return 'this is a folder, not a file';
  return code ?? String(err);
}
