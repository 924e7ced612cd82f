import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/**
 * The child side of the ingest benchmark. Every measured subject runs in its
 * own process so that `process.cpuUsage()` and the RSS it reports are its own;
 * the orchestrator marks the measuring window over IPC and the child answers
 * with what it consumed in that window.
 */

export interface Counts {
  /** Messages (MQTT) or notifications (OPC UA) received. */
  messages: number;
  /** Samples handed over (agent: emitted by the pipeline; bare: what a no-op client could hand over). */
  samples: number;
}

export interface WindowReport {
  seconds: number;
  messages: number;
  samples: number;
  /** CPU seconds (user + system) of this process in the window. */
  cpuSeconds: number;
  /** Mean RSS over the window, sampled every RSS_SAMPLE_MS. */
  rssMeanMb: number;
  rssMaxMb: number;
  /** Highest RSS of the process over its whole life (setup included). */
  rssPeakMb: number;
}

const RSS_SAMPLE_MS = 200;
const MB = 1024 * 1024;

export class WindowMeter {
  private start: { t: number; cpu: NodeJS.CpuUsage; counts: Counts } | undefined;
  private rssSum = 0;
  private rssN = 0;
  private rssMax = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly read: () => Counts) {}

  private profiler: Session | undefined;

  async begin(): Promise<void> {
    await this.startProfile();
    this.rssSum = 0;
    this.rssN = 0;
    this.rssMax = 0;
    this.sampleRss();
    this.timer = setInterval(() => this.sampleRss(), RSS_SAMPLE_MS);
    this.start = { t: performance.now(), cpu: process.cpuUsage(), counts: { ...this.read() } };
  }

  async end(): Promise<WindowReport> {
    const start = this.start;
    if (!start) throw new Error('window ended before it began');
    const t = performance.now();
    const cpu = process.cpuUsage(start.cpu);
    const counts = this.read();
    clearInterval(this.timer);
    this.sampleRss();
    this.start = undefined;
    await this.stopProfile();
    return {
      seconds: (t - start.t) / 1000,
      messages: counts.messages - start.counts.messages,
      samples: counts.samples - start.counts.samples,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      rssMeanMb: this.rssSum / this.rssN / MB,
      rssMaxMb: this.rssMax / MB,
      // maxRSS is in kilobytes.
      rssPeakMb: (process.resourceUsage().maxRSS * 1024) / MB,
    };
  }

  /** With BENCH_PROFILE_DIR set, the window (and only the window) is CPU-profiled into that folder. */
  private async startProfile(): Promise<void> {
    const dir = process.env.BENCH_PROFILE_DIR;
    if (!dir) return;
    this.profiler = new Session();
    this.profiler.connect();
    await this.profiler.post('Profiler.enable');
    await this.profiler.post('Profiler.start');
  }

  private async stopProfile(): Promise<void> {
    const dir = process.env.BENCH_PROFILE_DIR;
    if (!this.profiler || !dir) return;
    const { profile } = await this.profiler.post('Profiler.stop');
    this.profiler.disconnect();
    this.profiler = undefined;
    const file = join(dir, `${process.env.BENCH_PROFILE_NAME ?? 'window'}-${process.pid}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
  }

  private sampleRss(): void {
    const rss = process.memoryUsage.rss();
    this.rssSum += rss;
    this.rssN++;
    if (rss > this.rssMax) this.rssMax = rss;
  }
}

export type CommandHandlers = Record<string, () => unknown>;

/**
 * Answers the orchestrator's commands (`{ id, cmd }` → `{ id, ok, data | error }`).
 * `begin`/`end` drive the meter; `stop` runs the role's shutdown, answers with
 * its result and exits the process.
 */
export function serveCommands(meter: WindowMeter, stop: () => unknown, extra: CommandHandlers = {}): void {
  const handlers: CommandHandlers = {
    begin: () => meter.begin(),
    end: () => meter.end(),
    ...extra,
  };
  process.on('message', (msg: { id: number; cmd: string }) => {
    void (async () => {
      try {
        if (msg.cmd === 'stop') {
          const data = await stop();
          process.send?.({ id: msg.id, ok: true, data }, () => process.exit(0));
          return;
        }
        const handler = handlers[msg.cmd];
        if (!handler) throw new Error(`unknown command ${msg.cmd}`);
        process.send?.({ id: msg.id, ok: true, data: await handler() });
      } catch (err) {
        process.send?.({ id: msg.id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) });
      }
    })();
  });
  // The orchestrator is gone (crashed or interrupted): never linger as an orphan.
  process.on('disconnect', () => process.exit(0));
}

/** Tells the orchestrator something happened (e.g. `ready` once set up). */
export function sendEvent(event: string, data: unknown = {}): void {
  process.send?.({ event, data });
}

/** A crash in a role is reported on stderr and ends the child with code 1, which the orchestrator treats as fatal. */
export function runRole(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
