import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../../shared/logger.js';

/**
 * Calls `onChange` once the configuration file or one of its tag files has
 * changed and then stayed quiet for `debounceMs` (an editor's save is several
 * events; a spreadsheet export writes in pieces).
 *
 * Folders are watched, not the files: editors and tools save by writing a new
 * file and renaming it over the old one, which a watch on the old file's
 * inode would never see again.
 */
export class ConfigWatcher {
  private watchers = new Map<string, FSWatcher>();
  private files = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onChange: (file: string) => void,
    private readonly log: Logger,
    private readonly debounceMs = 500,
  ) {}

  /** Watches exactly these files (absolute paths) from now on; call again after a reload that changed the tag file list. */
  watch(files: readonly string[]): void {
    this.files = new Set(files);
    const folders = new Set(files.map((f) => dirname(f)));
    for (const [folder, watcher] of this.watchers) {
      if (folders.has(folder)) continue;
      watcher.close();
      this.watchers.delete(folder);
    }
    for (const folder of folders) {
      if (this.watchers.has(folder)) continue;
      try {
        const watcher = watch(folder, { persistent: false }, (_event, name) => this.changed(folder, name));
        watcher.on('error', (err) => this.log.warn({ folder, err: err.message }, 'watching the configuration folder failed; reload with SIGHUP (systemctl reload)'));
        this.watchers.set(folder, watcher);
      } catch (err) {
        this.log.warn({ folder, err: (err as Error).message }, 'cannot watch the configuration folder; reload with SIGHUP (systemctl reload)');
      }
    }
  }

  close(): void {
    clearTimeout(this.timer);
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  private changed(folder: string, name: string | Buffer | null): void {
    // Without a name (rare, some file systems) any change in the folder counts.
    const file = name === null ? undefined : [...this.files].find((f) => dirname(f) === folder && basename(f) === String(name));
    if (name !== null && !file) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onChange(file ?? folder), this.debounceMs);
    this.timer.unref();
  }
}
