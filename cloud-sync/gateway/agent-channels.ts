import type { HubMessage, ModelStatus } from '../../shared/sync-protocol.js';

/** One connected agent, as other rooms of the hub may use it. */
export interface AgentChannel {
  readonly agent: string;
  /** Queues a message for the agent; false when the connection is gone. Never throws. */
  send(message: HubMessage): boolean;
}

/** The agents connected to this hub replica (kept by the gateway). */
export interface AgentChannels {
  get(agent: string): AgentChannel | undefined;
  connected(): string[];
}

/**
 * What the gateway tells the deployment room. Both must not throw: errors are
 * logged inside. `onAgentReady` runs after `welcome` was sent, so pending
 * deployments reach an agent that was offline.
 */
export interface DeploymentHooks {
  onAgentReady(agent: string): Promise<void>;
  onModelStatus(agent: string, status: ModelStatus): Promise<void>;
}
