import { CLOSE_CODES } from '../../shared/sync-protocol.js';
import type { AgentChannel, AgentChannels } from './agent-channels.js';
import type { AgentConnection } from './agent-connection.js';

/**
 * The agents connected to this replica, one connection each: a second
 * connection of the same agent (it reconnected before the old socket timed
 * out) replaces the first. Other rooms see only agents past their hello.
 */
export class ConnectionRegistry implements AgentChannels {
  private readonly connections = new Map<string, AgentConnection>();

  add(connection: AgentConnection): void {
    const previous = this.connections.get(connection.agent);
    this.connections.set(connection.agent, connection);
    previous?.close(CLOSE_CODES.REPLACED, 'another connection of this agent took over');
  }

  /** Forgets a closed connection; true when it was still the agent's current one. */
  remove(connection: AgentConnection): boolean {
    if (this.connections.get(connection.agent) !== connection) return false;
    this.connections.delete(connection.agent);
    return true;
  }

  has(agent: string): boolean {
    return this.connections.has(agent);
  }

  get(agent: string): AgentChannel | undefined {
    const connection = this.connections.get(agent);
    return connection?.ready ? connection : undefined;
  }

  /** True when the agent has a connection here that was opened before `at` (ms, wall clock). */
  connectedBefore(agent: string, at: number): boolean {
    const connection = this.connections.get(agent);
    return connection !== undefined && connection.openedAt <= at;
  }

  connected(): string[] {
    return [...this.connections.values()].filter((c) => c.ready).map((c) => c.agent);
  }

  /** Closes the agent's connection, if it has one here; true when it had. */
  close(agent: string, code: number, reason: string): boolean {
    const connection = this.connections.get(agent);
    connection?.close(code, reason);
    return connection !== undefined;
  }

  closeAll(code: number, reason: string): void {
    for (const connection of this.connections.values()) connection.close(code, reason);
  }

  get size(): number {
    return this.connections.size;
  }
}
