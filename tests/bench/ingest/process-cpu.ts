import { readFileSync, readdirSync } from 'node:fs';

/**
 * CPU time of a process we did not start (the broker), read from /proc, so the
 * table can show whether the broker — not the subscriber — was the limit.
 * Linux only; returns undefined elsewhere or when /proc is not readable.
 */

/** Clock ticks per second of /proc/<pid>/stat; 100 on every Linux we target. */
const CLK_TCK = 100;

export function findProcessPid(name: string, pidFile?: string): number | undefined {
  try {
    if (pidFile) {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && processCpuSeconds(pid) !== undefined) return pid;
    }
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) return Number(entry);
      } catch {
        // The process ended while we looked; try the next one.
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** User + system CPU seconds the process has used so far. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name, which may itself hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime + stime) ? (utime + stime) / CLK_TCK : undefined;
  } catch {
    return undefined;
  }
}
