import type { HealthReport } from '../http/health.js';

/**
 * The one line `systemctl status vigil-agent` shows (STATUS=): what plant IT
 * looks at first — sources connected, tags live, results waiting for the hub.
 */
export function agentStatusLine(health: HealthReport, tags: { live: number; configured: number }): string {
  const connected = health.sources.filter((s) => s.connected).length;
  const parts = [`${connected}/${health.sources.length} sources connected`, `${tags.live}/${tags.configured} tags live`];
  if (health.hub.configured) {
    const { backlog } = health.hub;
    parts.push(`hub ${health.hub.connected ? 'connected' : 'not connected'}, ${backlog.scores + backlog.episodes + backlog.events} records waiting`);
  }
  if (health.config?.rejected) parts.push('configuration on disk refused (see /healthz)');
  return parts.join(', ');
}
