import type { DeploymentView } from '../deployments/deployer.js';
import type { DeploymentRecord } from '../storage/hub-storage.js';
import { formatDuration } from './parse-duration.js';

/** How `vigil hub deploy|deployments|rollback` print deployments: plain columns a person scans. */

export type DeploymentSummary = DeploymentRecord & { agents: number; counts: Record<string, number> };

export function deploymentLines(d: DeploymentView, now: number): string[] {
  const lines = [`${d.id}  ${d.model}@${d.version}  ${d.state.replace('_', ' ')}  ${plan(d)}`, `  created by ${d.createdBy} at ${formatTime(d.createdAt)}`];
  if (d.rollbackOf) lines.push(`  rolls back ${d.rollbackOf}`);
  if (d.reason) lines.push(`  reason: ${d.reason}`);
  const staged = d.canary !== null;
  const rows = [['agent', ...(staged ? ['wave'] : []), 'status', 'version', 'previous', 'note']];
  for (const t of d.targets) {
    const note = t.status === 'shadow' && t.shadowUntil !== null && d.state === 'rolling_out' ? shadowNote(t.shadowUntil, now) : (t.reason ?? '');
    rows.push([t.agent, ...(staged ? [t.wave === 0 ? 'canary' : 'rest'] : []), t.status.replace('_', ' '), t.version ?? '–', t.previousVersion ?? '–', note]);
  }
  return [...lines, ...table(rows).map((l) => `  ${l}`)];
}

export function deploymentListLines(list: readonly DeploymentSummary[]): string[] {
  if (list.length === 0) return ['no deployments'];
  const rows = [['id', 'model', 'version', 'state', 'agents', 'statuses', 'created', 'by']];
  for (const d of list) {
    const statuses = Object.entries(d.counts)
      .map(([status, n]) => `${status.replace('_', ' ')} ${n}`)
      .join(', ');
    rows.push([d.id, d.model, d.version, d.rollbackOf ? `${d.state.replace('_', ' ')} (rollback of ${d.rollbackOf})` : d.state.replace('_', ' '), String(d.agents), statuses, formatTime(d.createdAt), d.createdBy]);
  }
  return table(rows);
}

function plan(d: DeploymentRecord): string {
  const parts = [d.mode === 'shadow' ? `shadow ${formatDuration(d.shadowMs ?? 0)}, then activate` : 'activate'];
  if (d.canary !== null) parts.push(`canary ${d.canary}`);
  return `(${parts.join('; ')})`;
}

function shadowNote(until: number, now: number): string {
  return until > now ? `activates in ${formatDuration(Math.ceil((until - now) / 1000) * 1000)}` : 'activating';
}

function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** Left-aligned columns; the last column is not padded. */
function table(rows: readonly string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}
