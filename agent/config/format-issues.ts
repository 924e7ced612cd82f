import { isAbsolute, relative } from 'node:path';
import type { ConfigIssue } from './config-error.js';

/**
 * A file path as a person at the terminal wants it: relative to the current
 * folder when the file is below it (terminals and editors open `file:line:col`),
 * otherwise absolute.
 */
export function displayPath(file: string, cwd: string = process.cwd()): string {
  const rel = relative(cwd, file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/** `file:line:col`, the way compilers print locations. */
export function formatLocation(issue: Pick<ConfigIssue, 'file' | 'line' | 'column'>, cwd?: string): string {
  return `${displayPath(issue.file, cwd)}:${issue.line}:${issue.column}`;
}

/**
 * One line per issue, in file and line order:
 * `tags/pumps.csv:7:3  tags[5].nodeId  expected a nodeId with a namespace (…); found "Pump1.Temp"`
 * followed by an indented `hint:` line when there is one.
 */
export function formatIssues(issues: readonly ConfigIssue[], cwd?: string): string {
  return sortIssues(issues)
    .map((issue) => {
      const prefix = issue.severity === 'warning' ? 'warning: ' : '';
      const path = issue.path ? `${issue.path}  ` : '';
      const head = `${formatLocation(issue, cwd)}  ${path}${prefix}${issue.message}`;
      return issue.hint ? `${head}\n    hint: ${issue.hint}` : head;
    })
    .join('\n');
}

/** Issues ordered as a person fixes them: file by file, top to bottom. */
export function sortIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  const fileOrder = new Map<string, number>();
  for (const issue of issues) if (!fileOrder.has(issue.file)) fileOrder.set(issue.file, fileOrder.size);
  const rank = (issue: ConfigIssue) => fileOrder.get(issue.file) ?? 0;
  return [...issues].sort((a, b) => rank(a) - rank(b) || a.line - b.line || a.column - b.column);
}
