import { z } from 'zod';
import { validateInput } from '../api/validate-input.js';

/**
 * What `POST /api/deployments` and `vigil hub deploy` ask for: version V of
 * model M to the agents listed by id and/or carrying every given label
 * (both given: an agent must be listed and carry the labels). A shadow
 * deployment scores beside the active version for `shadowMs`, then the hub
 * activates it; `canary` agents (lowest ids first) go first and the rest
 * follow once every canary is active.
 */
export const DeployRequestSchema = z
  .strictObject({
    model: z.string().min(1),
    version: z.string().min(1),
    agents: z.array(z.string().min(1)).min(1).optional(),
    labels: z.record(z.string().min(1), z.string()).optional(),
    mode: z.enum(['shadow', 'activate']).optional(),
    /** Shadow period in ms; given alone it implies mode shadow. */
    shadowMs: z.number().int().nonnegative().optional(),
    canary: z.number().int().positive().optional(),
  })
  .superRefine((r, ctx) => {
    if (r.mode === 'shadow' && r.shadowMs === undefined) {
      ctx.addIssue({ code: 'custom', path: ['shadowMs'], message: 'a shadow deployment needs shadowMs: how long the new version scores beside the active one before it is activated' });
    }
    if (r.mode === 'activate' && r.shadowMs !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['shadowMs'], message: 'shadowMs applies only to mode shadow; leave it out, or use mode shadow' });
    }
    if (r.agents === undefined && (r.labels === undefined || Object.keys(r.labels).length === 0)) {
      ctx.addIssue({ code: 'custom', path: ['agents'], message: 'choose the agents: list their ids in agents, or give labels they carry' });
    }
  });

export interface DeployRequest {
  model: string;
  version: string;
  agents?: string[];
  labels?: Record<string, string>;
  mode?: 'shadow' | 'activate';
  shadowMs?: number;
  canary?: number;
}

/** A request with its defaults settled. */
export interface SettledDeployRequest {
  model: string;
  version: string;
  agents: string[] | null;
  labels: Record<string, string>;
  mode: 'shadow' | 'activate';
  shadowMs: number | null;
  canary: number | null;
}

/** Validates a request (from JSON or code); VIGIL_API_BAD_REQUEST naming the fields at fault. */
export function parseDeployRequest(input: unknown): SettledDeployRequest {
  const r = validateInput(DeployRequestSchema, input, 'body');
  const mode = r.mode ?? (r.shadowMs !== undefined ? 'shadow' : 'activate');
  return {
    model: r.model,
    version: r.version,
    agents: r.agents ?? null,
    labels: r.labels ?? {},
    mode,
    shadowMs: mode === 'shadow' ? (r.shadowMs ?? null) : null,
    canary: r.canary ?? null,
  };
}
