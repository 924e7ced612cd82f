import { parseLabels } from './parse-labels.js';

/** The deploy form's fields as typed. */
export interface DeployFields {
  model: string;
  version: string;
  agents: readonly string[];
  labels: string;
  /** Minutes, '' for none. */
  shadowMinutes: string;
  /** '' for none. */
  canary: string;
}

export interface DeployBody {
  model: string;
  version: string;
  agents?: string[];
  labels?: Record<string, string>;
  shadowMs?: number;
  canary?: number;
}

/**
 * The body of `POST /api/deployments`, or what to fix first. The hub checks
 * everything again; this only catches what can be told before asking it.
 */
export function deployBody(fields: DeployFields): { body: DeployBody } | { error: string } {
  if (fields.model === '' || fields.version === '') return { error: 'choose a model and a version' };
  const parsed = parseLabels(fields.labels);
  if ('error' in parsed) return parsed;
  const hasLabels = Object.keys(parsed.labels).length > 0;
  if (fields.agents.length === 0 && !hasLabels) return { error: 'choose the gateways, or give labels they carry' };
  const body: DeployBody = { model: fields.model, version: fields.version };
  if (fields.agents.length > 0) body.agents = [...fields.agents];
  if (hasLabels) body.labels = parsed.labels;
  if (fields.shadowMinutes.trim() !== '') {
    const minutes = Number(fields.shadowMinutes);
    if (!Number.isFinite(minutes) || minutes < 0) return { error: 'shadow period: a number of minutes, 0 or more' };
    body.shadowMs = Math.round(minutes * 60_000);
  }
  if (fields.canary.trim() !== '') {
    const canary = Number(fields.canary);
    if (!Number.isInteger(canary) || canary < 1) return { error: 'canary: a whole number of gateways, 1 or more' };
    body.canary = canary;
  }
  return { body };
}
