import type { SamplePipeline } from '../pipeline/sample-pipeline.js';
import type { Source, SourceHealth } from '../sources/source.js';
import type { HubBacklog, HubLinkStatus } from '../sync/link-state.js';

/** The hub link as /healthz shows it. */
export type HubHealth =
  | { configured: false }
  | (Omit<HubLinkStatus, 'counters'> & { configured: true; backlog: HubBacklog });

export interface HealthReport {
  status: 'ok' | 'degraded';
  reasons: string[];
  sources: SourceHealth[];
  pipeline: ReturnType<SamplePipeline['snapshot']>;
  hub: HubHealth;
  uptimeSeconds: number;
  /** The configuration in effect and the last refused reload; present for a running agent. */
  config?: ConfigHealth;
}

/** The configuration as /healthz shows it. */
export interface ConfigHealth {
  /** Absolute path of the configuration file. */
  file: string;
  /** When the configuration in effect was loaded (start or last applied reload), ISO 8601. */
  appliedAt: string;
  /** The last reload, when it was refused and no valid one came after: `file:line:column key: message` per error. */
  rejected: { at: string; issues: string[] } | null;
  /** Changed keys that are read once at start (http.port, hub.url…): they take effect at the next restart. */
  pendingRestart: string[];
}

/**
 * Adds the configuration to a report. A refused reload makes the agent
 * `degraded`: it still runs, but not with the configuration on disk, and
 * someone has to fix the file.
 */
export function withConfigHealth(report: HealthReport, config: ConfigHealth): HealthReport {
  if (!config.rejected) return { ...report, config };
  const [first, ...rest] = config.rejected.issues;
  const more = rest.length > 0 ? ` (and ${rest.length} more)` : '';
  const reason = `VIGIL_CONFIG_INVALID: the configuration on disk was refused at reload, the previous one keeps running: ${first ?? 'unknown error'}${more}`;
  return { ...report, status: 'degraded', reasons: [...report.reasons, reason], config };
}

/**
 * A hub away this long makes the agent `degraded`. Not sooner: the outbox
 * absorbs outages and a hub restart is routine; after this long someone
 * should look (the backlog grows, and results reach people late).
 */
export const HUB_UNREACHABLE_DEGRADED_MS = 5 * 60_000;

/**
 * Healthy means: every source connected, the pipeline not refusing samples
 * right now, and the hub (when configured) reachable or away only briefly.
 * Anything else is a reason plant IT can act on, listed by name.
 */
export function assessHealth(
  sources: readonly Source[],
  pipeline: SamplePipeline,
  startedAt: number,
  hubLink?: { status: HubLinkStatus; backlog: HubBacklog },
  now: () => number = Date.now,
): HealthReport {
  const reasons: string[] = [];
  const healths = sources.map((s) => s.health());
  for (const h of healths) {
    if (!h.connected) reasons.push(`source ${h.name} (${h.type}) is not connected: ${h.state}${h.lastError ? ` — ${h.lastError}` : ''}`);
  }
  const p = pipeline.snapshot();
  if (p.depth >= p.capacity) reasons.push(`the sample pipeline is full (${p.capacity} samples); new samples are being dropped`);
  let hub: HubHealth = { configured: false };
  if (hubLink) {
    const { counters: _counters, ...status } = hubLink.status;
    hub = { configured: true, ...status, backlog: hubLink.backlog };
    const waiting = `${hubLink.backlog.scores + hubLink.backlog.episodes + hubLink.backlog.events} records wait in the outbox`;
    if (status.state === 'unauthorized') {
      reasons.push(`the hub ${status.url} refused this agent's token (${status.lastError ?? 'HTTP 401'}); fix hub.tokenFile or hub.tokenEnv — ${waiting}`);
    } else if (!status.connected && status.unreachableSince !== null && status.state !== 'stopped' && now() - status.unreachableSince >= HUB_UNREACHABLE_DEGRADED_MS) {
      const minutes = Math.floor((now() - status.unreachableSince) / 60_000);
      reasons.push(`the hub ${status.url} has been unreachable for ${minutes} min${status.lastError ? ` (${status.lastError})` : ''}; ${waiting}`);
    }
  }
  return {
    status: reasons.length === 0 ? 'ok' : 'degraded',
    reasons,
    sources: healths,
    pipeline: p,
    hub,
    uptimeSeconds: Math.round((now() - startedAt) / 1000),
  };
}
