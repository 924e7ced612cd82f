import { SYNC_STREAMS, type AgentHealth, type SyncStream } from '../../shared/sync-protocol.js';
import type { OutboxStreamStats } from '../store/outbox.js';

/** What the heartbeat's health is read from (the running agent's parts fit). */
export interface HealthInputs {
  sources: () => ReadonlyArray<{ health(): { connected: boolean } }>;
  tags: { counts(): { configured: number; live: number } };
  outbox: { stats(): Record<SyncStream, OutboxStreamStats> };
  /** Everything dropped since the agent started: sources, pipeline, windows, store evictions. */
  dropsTotal: () => number;
  /** The /healthz verdict. */
  assess: () => { status: 'ok' | 'degraded'; reasons: string[] };
  startedAt: number;
}

/** The protocol allows this many reasons per heartbeat. */
const MAX_REASONS = 50;

/**
 * Builds the health a heartbeat carries. CPU is the share of one core used
 * by the whole process (main thread and scoring worker) since the previous
 * sample, from `process.cpuUsage` deltas: a 2-core gateway can show up to 200.
 */
export class HealthSampler {
  private lastCpu = process.cpuUsage();
  private lastAt: number;

  constructor(
    private readonly inputs: HealthInputs,
    private readonly now: () => number = Date.now,
  ) {
    this.lastAt = now();
  }

  sample(): AgentHealth {
    const { inputs } = this;
    const sources = inputs.sources();
    const tags = inputs.tags.counts();
    const stats = inputs.outbox.stats();
    const backlog = Object.fromEntries(SYNC_STREAMS.map((s) => [s, stats[s].pendingCount])) as AgentHealth['backlog'];
    const backlogBytes = SYNC_STREAMS.reduce((sum, s) => sum + stats[s].pendingBytes, 0);
    const verdict = inputs.assess();
    return {
      sourcesConnected: sources.filter((s) => s.health().connected).length,
      sourcesTotal: sources.length,
      tagsLive: tags.live,
      tagsConfigured: tags.configured,
      backlog,
      backlogBytes,
      dropsTotal: Math.max(0, Math.round(inputs.dropsTotal())),
      cpuPercent: this.cpuPercent(),
      rssBytes: process.memoryUsage.rss(),
      uptimeS: Math.max(0, Math.round((this.now() - inputs.startedAt) / 1000)),
      status: verdict.status,
      reasons: verdict.reasons.slice(0, MAX_REASONS),
    };
  }

  private cpuPercent(): number {
    const cpu = process.cpuUsage();
    const at = this.now();
    const usedMicros = cpu.user - this.lastCpu.user + (cpu.system - this.lastCpu.system);
    const elapsedMicros = (at - this.lastAt) * 1000;
    this.lastCpu = cpu;
    this.lastAt = at;
    if (elapsedMicros <= 0) return 0;
    return Math.max(0, Math.round((usedMicros / elapsedMicros) * 1000) / 10);
  }
}
