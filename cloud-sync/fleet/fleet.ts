import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { describeError, VigilError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { CLOSE_CODES, type HubMessage } from '../../shared/sync-protocol.js';
import type { AgentChannel, AgentChannels } from '../gateway/agent-channels.js';
import type { ConnectionRegistry } from '../gateway/connection-registry.js';
import type { HubStorage } from '../storage/hub-storage.js';
import { FleetMessageSchema, type FleetMessage } from './fleet-messages.js';

export interface FleetDeps {
  storage: HubStorage;
  /** This replica's id (hub.id): unique among the replicas sharing the storage. */
  replica: string;
  /** The agents connected to this replica. */
  local: ConnectionRegistry;
  log: Logger;
  /** How long a starting replica listens for one already running with its id, ms. Default 750. */
  duplicateWaitMs?: number;
}

type Handler = (message: FleetMessage) => void;

/**
 * This replica's view of the fleet of hub replicas sharing one storage.
 *
 * - Presence: which replica each agent is connected to, learnt from the
 *   storage at start and from `agent-connected` / `agent-disconnected`
 *   messages after, so sending to an agent needs no query.
 * - `channels`: AgentChannels over the whole fleet — an agent connected here
 *   gets the message directly, one connected to another replica through a
 *   `to-agent` message that replica delivers. The deployer and history
 *   requests use it unchanged.
 * - An agent that connects elsewhere has its older connection here closed
 *   (REPLACED), as a second connection to the same replica does.
 *
 * On LMDB (one replica) every message comes back to this replica and the
 * routing is a no-op; the same code runs either way.
 */
export class Fleet {
  private readonly presence = new Map<string, string>();
  private readonly handlers = new Set<Handler>();
  private unsubscribe: (() => void) | undefined;
  /** This process, among replicas that might (wrongly) share an id. */
  private readonly instance = randomUUID();
  /** Host of a running replica that answered our hello with our own id. */
  private conflict: string | undefined;
  readonly channels: AgentChannels;

  constructor(private readonly deps: FleetDeps) {
    this.channels = { get: (agent) => this.channel(agent), connected: () => deps.local.connected() };
  }

  get replica(): string {
    return this.deps.replica;
  }

  /**
   * Subscribes first, then reads presence, so nothing announced in between is
   * missed. With shared storage, first makes sure no running replica already
   * has this id: two replicas with one hub.id would clear each other's agents
   * and take each other's messages.
   */
  async start(): Promise<void> {
    this.unsubscribe = this.deps.storage.subscribe((raw) => this.receive(raw));
    if (this.deps.storage.kind === 'postgres') await this.refuseDuplicateId();
    for (const agent of await this.deps.storage.listAgents()) {
      if (agent.connectedTo !== null && agent.connectedTo !== this.deps.replica && !this.presence.has(agent.id)) this.presence.set(agent.id, agent.connectedTo);
    }
  }

  private async refuseDuplicateId(): Promise<void> {
    await this.deps.storage.publish({ type: 'replica-hello', replica: this.deps.replica, instance: this.instance });
    await new Promise((r) => setTimeout(r, this.deps.duplicateWaitMs ?? 750));
    if (this.conflict !== undefined) {
      this.stop();
      throw new VigilError(
        'VIGIL_CONFIG_INVALID',
        `another hub replica is running with hub.id ${this.deps.replica} (on ${this.conflict}); give every replica its own hub.id (it names the replica agents are connected to)`,
        { details: { replica: this.deps.replica, host: this.conflict } },
      );
    }
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Extra handling of fleet messages (history relay). */
  on(handler: Handler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** The replica an agent is connected to, as far as this replica knows. */
  replicaOf(agent: string): string | undefined {
    return this.deps.local.get(agent) ? this.deps.replica : this.presence.get(agent);
  }

  agentConnected(agent: string): void {
    this.presence.set(agent, this.deps.replica);
    this.send({ type: 'agent-connected', agent, replica: this.deps.replica, at: Date.now() });
  }

  agentDisconnected(agent: string): void {
    if (this.presence.get(agent) === this.deps.replica) this.presence.delete(agent);
    this.send({ type: 'agent-disconnected', agent, replica: this.deps.replica });
  }

  /** Closes the agent's connection here and on every other replica. */
  disconnectEverywhere(agent: string, code: number, reason: string): void {
    this.deps.local.close(agent, code, reason);
    this.send({ type: 'disconnect-agent', agent, code, reason });
  }

  /** Publishes; a failure is logged (callers go on: agents also catch up on reconnect and heartbeat). */
  send(message: FleetMessage): void {
    this.deps.storage.publish(message).catch((err: unknown) => this.deps.log.warn({ err: describeError(err), fleet: message.type }, 'a message to the other hub replicas could not be sent'));
  }

  private channel(agent: string): AgentChannel | undefined {
    const local = this.deps.local.get(agent);
    if (local) return local;
    const replica = this.presence.get(agent);
    if (replica === undefined || replica === this.deps.replica) return undefined;
    return {
      agent,
      send: (message: HubMessage) => {
        this.send({ type: 'to-agent', agent, replica, message: message as unknown as Record<string, unknown> });
        // Optimistic: if that replica lost the agent, it gets the message again when it reconnects.
        return true;
      },
    };
  }

  private receive(raw: unknown): void {
    const parsed = FleetMessageSchema.safeParse(raw);
    if (!parsed.success) {
      this.deps.log.warn({ fleet: (raw as { type?: unknown } | null)?.type }, 'ignored a malformed message from another hub replica');
      return;
    }
    const message = parsed.data;
    const { local, replica, log } = this.deps;
    switch (message.type) {
      case 'replica-hello':
        if (message.replica === replica && message.instance !== this.instance) {
          log.error({ replica }, `another process is starting as hub replica ${replica}; it is told to stop (every replica needs its own hub.id)`);
          this.send({ type: 'replica-conflict', replica, instance: message.instance, host: hostname() });
        }
        break;
      case 'replica-conflict':
        if (message.replica === replica && message.instance === this.instance) this.conflict = message.host;
        break;
      case 'agent-connected':
        if (message.replica === replica) break;
        this.presence.set(message.agent, message.replica);
        if (local.connectedBefore(message.agent, message.at)) {
          log.info({ agent: message.agent, replica: message.replica }, 'agent connected to another replica; closing its older connection here');
          local.close(message.agent, CLOSE_CODES.REPLACED, `the agent connected to hub replica ${message.replica}`);
        }
        break;
      case 'agent-disconnected':
        if (message.replica !== replica && this.presence.get(message.agent) === message.replica) this.presence.delete(message.agent);
        break;
      case 'to-agent':
        if (message.replica === replica) local.get(message.agent)?.send(message.message as unknown as HubMessage);
        break;
      case 'disconnect-agent':
        local.close(message.agent, message.code, message.reason);
        break;
      default:
        break;
    }
    for (const handler of this.handlers) {
      try {
        handler(message);
      } catch (err) {
        log.error({ err: describeError(err), fleet: message.type }, 'handling a message from another hub replica failed');
      }
    }
  }
}
