import type { DeploymentStatus } from '../../api/api-types.js';

/** Per-gateway statuses in the order a rollout moves through them, good to bad. */
export const STATUS_ORDER: readonly DeploymentStatus[] = ['active', 'shadow', 'downloading', 'pending', 'rolled_back', 'refused', 'failed'];

/** A CSS class per status: ok, in progress, or a problem. */
export function statusClass(status: string): string {
  if (status === 'active' || status === 'completed') return 'badge-ok';
  if (status === 'refused' || status === 'failed') return 'badge-alarm';
  if (status === 'rolled_back') return 'badge-off';
  return 'badge-progress';
}

export function describeSelector(selector: { agents: string[]; labels: Record<string, string> }): string {
  const parts: string[] = [];
  if (selector.agents.length > 0) parts.push(selector.agents.join(', '));
  const labels = Object.entries(selector.labels);
  if (labels.length > 0) parts.push(labels.map(([k, v]) => `${k}=${v}`).join(' '));
  return parts.join(' with ') || '–';
}
