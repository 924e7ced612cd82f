import type { AgentHealth, ModelVersions } from '../../shared/sync-protocol.js';
import type { AgentRecord } from '../storage/hub-storage.js';

/** An agent as the API and the command line show it: presence and health, never its token hash. */
export interface AgentView {
  id: string;
  labels: Record<string, string>;
  online: boolean;
  connectedTo: string | null;
  lastSeenAt: number | null;
  createdAt: number;
  revoked: boolean;
  revokedAt: number | null;
  software: string | null;
  epoch: string | null;
  models: ModelVersions[];
  /** The last heartbeat's health: backlog per stream, drops, sources, tags live/configured, CPU, RSS. */
  health: AgentHealth | null;
  /** Agent clock minus hub clock, ms, from the last heartbeat. */
  skewMs: number | null;
  /** |skewMs| beyond sync.maxSkewMs: the agent's timestamps are off by that much. */
  skewed: boolean;
}

/**
 * Online: connected to a replica that heard from it within offlineAfterMs.
 * The second half matters with several replicas: one killed outright never
 * clears the claim of its agents, and an agent gone with it must not show
 * online for ever.
 */
export function agentView(agent: AgentRecord, maxSkewMs: number, offlineAfterMs?: number, now = Date.now()): AgentView {
  const heard = offlineAfterMs === undefined || (agent.lastSeenAt !== null && now - agent.lastSeenAt <= offlineAfterMs);
  return {
    id: agent.id,
    labels: agent.labels,
    online: agent.connectedTo !== null && heard,
    connectedTo: agent.connectedTo,
    lastSeenAt: agent.lastSeenAt,
    createdAt: agent.createdAt,
    revoked: agent.revokedAt !== null,
    revokedAt: agent.revokedAt,
    software: agent.software,
    epoch: agent.epoch,
    models: agent.models,
    health: agent.health,
    skewMs: agent.skewMs,
    skewed: agent.skewMs !== null && Math.abs(agent.skewMs) > maxSkewMs,
  };
}
