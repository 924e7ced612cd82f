import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';

export interface ModelDirectoryOptions {
  /** Full rescan period, in ms: fs.watch misses events on some file systems (NFS, bind mounts, editors). Default 3000. */
  rescanMs?: number;
  /** Quiet time after a change event before the folder is read, in ms. Default 250. */
  debounceMs?: number;
  /**
   * A file modified less than this long ago is left for a later scan, in ms:
   * a copy in place may still be writing. Default 500. (Write-then-rename
   * makes this moot; it only softens careless copies.)
   */
  settleMs?: number;
  /** Larger files are refused without being read, in bytes. Default 512 MiB. */
  maxBytes?: number;
}

export interface ModelDirectoryCounts {
  /** Files handed to onPackage (including ones it then refused). */
  delivered: number;
  /** Files that could not be read, were too large, or that onPackage rejected. */
  failed: number;
}

/** What identifies a version of a file: a rename brings a new inode, a copy in place a new mtime or size. */
interface Seen {
  ino: number;
  mtimeMs: number;
  size: number;
}

const PACKAGE = /^[^.].*\.vmodel$/;

/**
 * Watches the model folder (plants without a hub deploy by dropping packages
 * here). Every `*.vmodel` present at start is delivered, in name order, before
 * `start()` resolves; later, a file that appears or changes
 * (by inode, mtime or size) is delivered once the folder has been quiet for
 * `debounceMs`.
 *
 * Dropping a package: copy it in under a name that does not end in .vmodel
 * (`pump.vmodel.tmp`, or a dotfile) and rename it — a rename is atomic, so the
 * agent never reads half a file. Temporary and hidden names are ignored.
 *
 * A file that cannot be read, or that `onPackage` rejects, is logged and not
 * retried until it changes. Removing a file does not unload its model: the
 * active version keeps scoring until another replaces it.
 */
export class ModelDirectory {
  private readonly seen = new Map<string, Seen>();
  private readonly options: Required<ModelDirectoryOptions>;
  private watcher: FSWatcher | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly counts: ModelDirectoryCounts = { delivered: 0, failed: 0 };

  constructor(
    readonly dir: string,
    private readonly onPackage: (file: string, bytes: Buffer) => Promise<void>,
    private readonly log: Logger,
    options: ModelDirectoryOptions = {},
  ) {
    this.options = { rescanMs: 3000, debounceMs: 250, settleMs: 500, maxBytes: 512 * 1024 * 1024, ...options };
  }

  /** Creates the folder if needed and delivers the packages already in it; then watches. */
  async start(): Promise<void> {
    this.stopped = false;
    await mkdir(this.dir, { recursive: true });
    // At start every file is taken as it is: the agent was not running while it was written.
    await this.scan(false);
    if (this.stopped) return;
    try {
      this.watcher = watch(this.dir, { persistent: false }, () => this.schedule(this.options.debounceMs));
      this.watcher.on('error', (err) => {
        this.log.warn({ dir: this.dir, err: describeError(err) }, 'watching the model folder failed; it is still rescanned periodically');
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (err) {
      this.log.warn({ dir: this.dir, err: describeError(err) }, 'cannot watch the model folder; it is rescanned periodically');
    }
    this.rescanTimer = setInterval(() => this.schedule(0), this.options.rescanMs);
    this.rescanTimer.unref();
    this.log.info({ dir: this.dir, packages: this.seen.size }, 'watching the model folder for *.vmodel packages');
  }

  /** Stops watching; waits for a delivery in progress. Safe to call twice or after a failed start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = undefined;
    clearInterval(this.rescanTimer);
    clearTimeout(this.debounceTimer);
    await this.scanning;
  }

  snapshot(): ModelDirectoryCounts & { dir: string; files: number } {
    return { dir: this.dir, files: this.seen.size, ...this.counts };
  }

  /** Resolves when any scan requested so far has finished (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.scanning) await this.scanning;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => void this.scan(true), delayMs);
    this.debounceTimer.unref();
  }

  /** One scan at a time; a request during a scan runs one more scan after it. */
  private scan(settle: boolean): Promise<void> {
    if (this.scanning) {
      this.again = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      try {
        do {
          this.again = false;
          await this.scanOnce(settle);
        } while (this.again && !this.stopped);
      } finally {
        this.scanning = undefined;
      }
    })();
    return this.scanning;
  }

  private async scanOnce(settle: boolean): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => PACKAGE.test(n)).sort();
    } catch (err) {
      this.log.warn({ dir: this.dir, err: describeError(err) }, 'cannot list the model folder');
      return;
    }
    const present = new Set(names);
    for (const name of this.seen.keys()) if (!present.has(name)) this.seen.delete(name);
    let unsettled = false;
    for (const name of names) {
      if (this.stopped) return;
      const file = join(this.dir, name);
      let info;
      try {
        info = await stat(file);
      } catch {
        continue; // Renamed or removed since the listing; the next scan sees the new state.
      }
      if (!info.isFile()) continue;
      const before = this.seen.get(name);
      if (before && before.ino === info.ino && before.mtimeMs === info.mtimeMs && before.size === info.size) continue;
      if (settle && Date.now() - info.mtimeMs < this.options.settleMs) {
        unsettled = true;
        continue;
      }
      this.seen.set(name, { ino: info.ino, mtimeMs: info.mtimeMs, size: info.size });
      await this.deliver(file, info.size);
    }
    if (unsettled) this.schedule(this.options.settleMs);
  }

  private async deliver(file: string, size: number): Promise<void> {
    if (size > this.options.maxBytes) {
      this.counts.failed++;
      this.log.error({ file, size, maxBytes: this.options.maxBytes, code: 'VIGIL_MODEL_PACKAGE_INVALID' }, 'model package too large; not read');
      return;
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      this.counts.failed++;
      this.log.error({ file, err: describeError(err) }, 'cannot read model package; it is read again when it changes');
      return;
    }
    this.log.info({ file, bytes: bytes.length }, 'model package found');
    this.counts.delivered++;
    try {
      await this.onPackage(file, bytes);
    } catch (err) {
      this.counts.failed++;
      this.log.error({ file, err: describeError(err) }, 'model package not loaded; it is read again when it changes');
    }
  }
}
