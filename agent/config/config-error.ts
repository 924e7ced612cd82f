import { VigilError } from '../../shared/errors.js';
import { displayPath, formatIssues } from './format-issues.js';

/** One problem in a configuration or tag file, located for the person who has to fix it. */
export interface ConfigIssue {
  /** Absolute path of the file the problem is in. */
  file: string;
  /** 1-based line and column of the offending key or value. */
  line: number;
  column: number;
  /** Key path inside the file, e.g. `tags[3].nodeId`. */
  path: string;
  /** Plain words: what was found and what is expected. */
  message: string;
  /** What to do about it, when the message alone does not say. */
  hint?: string;
  /**
   * Errors make the configuration unusable. Warnings (a password file that does
   * not exist on this machine yet) are shown by `vigil check` but do not stop the
   * agent: only the source that needs the secret fails, and says so.
   * Default error.
   */
  severity?: 'error' | 'warning';
}

export function isError(issue: ConfigIssue): boolean {
  return issue.severity !== 'warning';
}

/** Thrown by loadConfig; carries every problem found, not only the first. */
export class ConfigError extends VigilError {
  readonly issues: ConfigIssue[];
  readonly file: string;

  constructor(file: string, issues: ConfigIssue[]) {
    const errors = issues.filter(isError);
    super('VIGIL_CONFIG_INVALID', `${summary(file, errors.length)}\n${formatIssues(errors)}`, { details: { file, issues: errors.length } });
    this.name = 'ConfigError';
    this.file = file;
    this.issues = errors;
  }

  /** The multi-line list people read: a summary line, then one line (and a hint) per problem. */
  format(): string {
    return `${summary(this.file, this.issues.length)}\n${formatIssues(this.issues)}`;
  }
}

function summary(file: string, count: number): string {
  return `${displayPath(file)}: ${count} error${count === 1 ? '' : 's'} in the configuration`;
}
