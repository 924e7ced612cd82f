import type { AgentEvent, AgentEventKind } from '../../shared/episode.js';
import type { ModelEvent, ModelEventKind } from '../models/model-registry.js';

/**
 * Which model registry events the hub hears about, and as what. A version that
 * fails at run time (`fault`) — and a model left without any version because
 * of it (`stopped`) — become `model_fault`: an event of its own kind, so a
 * plant user can tell "the model broke" from "the pump is odd" and from "the
 * data stopped". Staging, shadow changes and ignored offers stay local
 * (/models and the log): they change nothing a plant user judges.
 */
const KINDS: Record<ModelEventKind, AgentEventKind | null> = {
  activated: 'model_activated',
  rolled_back: 'model_rolled_back',
  refused: 'model_refused',
  fault: 'model_fault',
  stopped: 'model_fault',
  staged: null,
  shadow_started: null,
  shadow_stopped: null,
  ignored: null,
};

/** The agent event for a model registry event, or null when it is not one the hub hears about. */
export function modelAgentEvent(agentId: string, event: ModelEvent): AgentEvent | null {
  const kind = KINDS[event.kind];
  if (kind === null) return null;
  const details: Record<string, unknown> = { version: event.version, registryKind: event.kind };
  if (event.from !== undefined) details.from = event.from;
  if (event.reason !== undefined) details.reason = event.reason;
  if (event.windowStart !== undefined) details.windowStart = event.windowStart;
  return { kind, at: event.at, agent: agentId, subject: event.model, message: event.message, details };
}
