import { describeError } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { checkConfig } from '../config/load.js';
import { isError } from '../config/config-error.js';
import { displayPath, formatIssues } from '../config/format-issues.js';
import type { MqttSourceConfig, MqttTagConfig, OpcuaSourceConfig, OpcuaTagConfig, ResolvedConfig } from '../config/schema.js';
import type { TagProbeResult } from '../sources/probe.js';

export interface CheckOptions {
  /** Also dry-run every tag against the live servers and brokers. */
  connect: boolean;
  /** With connect: how long to listen for MQTT traffic, in seconds. */
  listenSeconds: number;
}

/** The probing functions; injectable so the table logic is testable without a plant. */
export interface Probes {
  opcua(source: OpcuaSourceConfig, tags: OpcuaTagConfig[], opts: { dataDir: string; agentId: string; log: Logger; timeoutMs: number }): Promise<TagProbeResult[]>;
  mqtt(source: MqttSourceConfig, tags: MqttTagConfig[], opts: { agentId: string; log: Logger; listenMs: number }): Promise<TagProbeResult[]>;
}

// Loaded only with --connect: a plain check should not pay for node-opcua's start-up.
const liveProbes: Probes = {
  opcua: async (...args) => (await import('../sources/opcua/probe-opcua.js')).probeOpcuaSource(...args),
  mqtt: async (...args) => (await import('../sources/mqtt/probe-mqtt.js')).probeMqttSource(...args),
};

/**
 * `vigil check <file> [--connect]`. Returns the exit code: 0 when the
 * configuration is valid (and, with --connect, no tag failed), 1 otherwise.
 */
export async function runCheck(file: string, opts: CheckOptions, out: (line: string) => void, probes: Probes = liveProbes): Promise<number> {
  const result = await checkConfig(file);
  const errors = result.issues.filter(isError);
  const warnings = result.issues.length - errors.length;
  const shown = displayPath(result.files[0] ?? file);

  if (!result.config || errors.length > 0) {
    out(`✖ ${shown}: ${plural(errors.length, 'error')}${warnings ? `, ${plural(warnings, 'warning')}` : ''}`);
    out(formatIssues(result.issues));
    return 1;
  }
  const config = result.config;
  const tags = config.opcuaTags.length + config.mqttTags.length;
  out(`✔ ${shown}: ${plural(config.sources.length, 'source')}, ${plural(tags, 'tag')} (${plural(result.files.length, 'file')})${warnings ? `, ${plural(warnings, 'warning')}` : ''}`);
  if (warnings) out(formatIssues(result.issues));
  if (!opts.connect) return 0;
  return probeAll(config, opts, out, probes);
}

async function probeAll(config: ResolvedConfig, opts: CheckOptions, out: (line: string) => void, probes: Probes): Promise<number> {
  const log = silentLogger();
  // Sources are probed side by side: MQTT listens for a while, and one server
  // that does not answer should not delay the others.
  const runs = config.sources.map(async (source): Promise<TagProbeResult[]> => {
    try {
      if (source.type === 'opcua') {
        const tags = config.opcuaTags.filter((t) => t.source === source.name);
        if (tags.length === 0) return [];
        return await probes.opcua(source, tags, { dataDir: config.agent.dataDir, agentId: config.agent.id, log, timeoutMs: source.connectTimeoutMs });
      }
      const tags = config.mqttTags.filter((t) => t.source === source.name);
      if (tags.length === 0) return [];
      return await probes.mqtt(source, tags, { agentId: config.agent.id, log, listenMs: opts.listenSeconds * 1000 });
    } catch (err) {
      // The probe could not run at all (e.g. the server is unreachable): every tag of the source fails with that reason.
      const tags = source.type === 'opcua' ? config.opcuaTags : config.mqttTags;
      return tags.filter((t) => t.source === source.name).map((t) => ({ tag: t.name, source: source.name, status: 'fail', detail: describeError(err) }));
    }
  });
  const results = await Promise.all(runs);

  const counts = { ok: 0, warn: 0, fail: 0 };
  config.sources.forEach((source, i) => {
    const rows = results[i] ?? [];
    out('');
    out(`${source.name} (${source.type === 'opcua' ? source.endpoint : source.url})`);
    if (rows.length === 0) {
      out('  no tags use this source');
      return;
    }
    for (const line of table(rows)) out(`  ${line}`);
    for (const row of rows) counts[row.status]++;
  });
  out('');
  const total = counts.ok + counts.warn + counts.fail;
  if (counts.fail > 0) {
    out(`✖ ${counts.fail} of ${plural(total, 'tag')} failed${counts.warn ? `, ${counts.warn} with warnings` : ''}`);
    return 1;
  }
  out(`✔ ${plural(total, 'tag')} checked live: ${counts.ok} ok${counts.warn ? `, ${counts.warn} with warnings` : ''}`);
  return 0;
}

const STATUS_MARK = { ok: '✔ ok', warn: '⚠ warn', fail: '✖ fail' } as const;

function table(rows: readonly TagProbeResult[]): string[] {
  const cells = rows.map((r) => [r.tag, STATUS_MARK[r.status], r.detail] as const);
  const tagWidth = Math.max(3, ...cells.map((c) => c[0].length));
  const statusWidth = Math.max(6, ...cells.map((c) => c[1].length));
  const line = (a: string, b: string, c: string) => `${a.padEnd(tagWidth)}  ${b.padEnd(statusWidth)}  ${c}`.trimEnd();
  return [line('tag', 'status', 'detail'), line('-'.repeat(tagWidth), '-'.repeat(statusWidth), '------'), ...cells.map((c) => line(...c))];
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
