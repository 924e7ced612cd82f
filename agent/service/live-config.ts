import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { isError, type ConfigIssue } from '../config/config-error.js';
import { checkConfig } from '../config/load.js';
import type { ResolvedConfig } from '../config/schema.js';
import { sortIssues } from '../config/format-issues.js';
import type { ConfigHealth } from '../http/health.js';
import { describeDiff, diffConfig, isEmptyDiff, type ConfigDiff } from './config-diff.js';

export interface ReloadOutcome {
  /** `stopping`: asked while the agent stops; nothing was read. */
  result: 'applied' | 'unchanged' | 'rejected' | 'stopping';
  /** The configuration file and the tag files it lists, as read for this reload: what to watch. */
  files: string[];
  /** What changed in sources and tags (applied) and which keys wait for a restart. */
  diff?: ConfigDiff;
  /** Why the new configuration was refused. */
  issues?: ConfigIssue[];
}

/** Applies the source and tag changes of a valid new configuration to the running agent. */
export type ApplyConfig = (diff: ConfigDiff, next: ResolvedConfig) => Promise<void>;

/**
 * The agent's configuration while it runs. A reload reads the configuration
 * file and its tag files again and validates them before anything is
 * touched: an invalid set is refused as a whole — logged with file and line
 * (VIGIL_CONFIG_INVALID), shown on /healthz until a valid reload — and the
 * running configuration stays. A valid one is compared with the running one
 * and only what differs in sources and tags is applied; keys read once at
 * start (http, store, hub, models…) are listed as waiting for a restart.
 * Reloads run one at a time, in the order asked.
 */
export class LiveConfig {
  private applied: ResolvedConfig;
  private appliedAt = Date.now();
  private rejected: { at: number; issues: ConfigIssue[] } | undefined;
  private pendingRestart: string[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    started: ResolvedConfig,
    private readonly apply: ApplyConfig,
    private readonly log: Logger,
  ) {
    this.applied = started;
  }

  /** The configuration in effect: sources and tags as last reloaded, every other key as at start. */
  current(): ResolvedConfig {
    return this.applied;
  }

  health(): ConfigHealth {
    return {
      file: this.applied.file,
      appliedAt: new Date(this.appliedAt).toISOString(),
      rejected: this.rejected ? { at: new Date(this.rejected.at).toISOString(), issues: this.rejected.issues.map(issueLine) } : null,
      pendingRestart: [...this.pendingRestart],
    };
  }

  /** Reads, validates and applies the configuration files again; `trigger` is logged (SIGHUP, a changed file). */
  reload(trigger: string): Promise<ReloadOutcome> {
    const outcome = this.queue.then(() => (this.closed ? { result: 'stopping' as const, files: [] } : this.reloadNow(trigger)));
    this.queue = outcome.catch(() => undefined);
    return outcome;
  }

  /** Refuses further reloads and waits for the one in progress: the agent is stopping. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
  }

  private async reloadNow(trigger: string): Promise<ReloadOutcome> {
    const file = this.applied.file;
    const checked = await checkConfig(file);
    if (!checked.config) {
      const issues = sortIssues(checked.issues.filter(isError));
      this.rejected = { at: Date.now(), issues };
      const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
      this.log.error(
        { code: 'VIGIL_CONFIG_INVALID', trigger, file, issues: issues.map(issueLine) },
        `VIGIL_CONFIG_INVALID: the changed configuration is not applied, the previous one keeps running: ${issueLine(issues[0]!)}${more}`,
      );
      return { result: 'rejected', files: checked.files, issues };
    }
    const next = checked.config;
    this.rejected = undefined;
    // `applied` keeps the startup values of every key but sources and tags, so this also lists what waits for a restart.
    const diff = diffConfig(this.applied, next);
    const restartChanged = diff.needsRestart.join() !== this.pendingRestart.join();
    this.pendingRestart = diff.needsRestart;
    if (restartChanged && diff.needsRestart.length > 0) {
      this.log.warn({ trigger, keys: diff.needsRestart }, `configuration changes that take effect at the next restart: ${diff.needsRestart.join(', ')}`);
    }
    if (isEmptyDiff({ ...diff, needsRestart: [] })) {
      this.log.info({ trigger, file }, 'configuration reloaded: no source or tag changes');
      return { result: 'unchanged', files: checked.files, diff };
    }
    try {
      await this.apply(diff, next);
    } catch (err) {
      // Sources isolate their own failures; this is a bug, and the agent goes on with what was applied.
      this.log.error({ trigger, err: describeError(err) }, 'applying the reloaded configuration failed part-way');
    }
    this.applied = { ...this.applied, sources: next.sources, opcuaTags: next.opcuaTags, mqttTags: next.mqttTags };
    this.appliedAt = Date.now();
    this.log.info({ trigger, file, sources: diff.sources, tags: diff.tags }, `configuration reloaded: ${describeDiff(diff)}`);
    return { result: 'applied', files: checked.files, diff };
  }
}

/** `/etc/vigil/tags.csv:7:3 tags[5].nodeId: expected …`: absolute, since a service has no useful current folder. */
function issueLine(issue: ConfigIssue): string {
  return `${issue.file}:${issue.line}:${issue.column} ${issue.path ? `${issue.path}: ` : ''}${issue.message}`;
}
