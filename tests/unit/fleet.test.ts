import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/logger.js';
import { CLOSE_CODES, type HubMessage } from '../../shared/sync-protocol.js';
import { Fleet } from '../../cloud-sync/fleet/fleet.js';
import type { AgentConnection } from '../../cloud-sync/gateway/agent-connection.js';
import { ConnectionRegistry } from '../../cloud-sync/gateway/connection-registry.js';
import type { AgentRecord, HubStorage } from '../../cloud-sync/storage/hub-storage.js';
import { InProcessFleet } from '../../cloud-sync/storage/in-process-fleet.js';

/** A connection stand-in: what the registry and the fleet use of it. */
function connection(agent: string, openedAt: number) {
  const sent: HubMessage[] = [];
  const closed: Array<{ code: number; reason: string }> = [];
  const c = { agent, openedAt, ready: true, send: (m: HubMessage) => (sent.push(m), true), close: (code: number, reason: string) => void closed.push({ code, reason }) };
  return { c: c as unknown as AgentConnection, sent, closed };
}

/** Two replicas sharing one message bus (as two processes share PostgreSQL NOTIFY), each with its own connections. */
function twoReplicas(agents: Array<Pick<AgentRecord, 'id' | 'connectedTo'>> = [], kind: 'lmdb' | 'postgres' = 'lmdb', ids = ['hub-a', 'hub-b']) {
  const bus = new InProcessFleet();
  const storage = {
    kind,
    publish: (m: unknown) => bus.publish(m),
    subscribe: (l: (m: unknown) => void) => bus.subscribe(l),
    listAgents: async () => agents,
  } as unknown as HubStorage;
  const make = (replica: string) => {
    const local = new ConnectionRegistry();
    return { local, fleet: new Fleet({ storage, replica, local, log: silentLogger(), duplicateWaitMs: 50 }) };
  };
  return { a: make(ids[0]!), b: make(ids[1]!) };
}

const settle = () => new Promise((r) => setTimeout(r, 20));
const deploy = { type: 'deploy', deployment: 'd1', model: 'm', version: '1.0.0', mode: 'activate', rollback: false, sha256: 'a'.repeat(64), signature: 's', url: '/p', size: 1 } as unknown as HubMessage;

describe('Fleet: replicas sharing one storage', () => {
  it('delivers to an agent connected to another replica, learnt from its announcement', async () => {
    const { a, b } = twoReplicas();
    await a.fleet.start();
    await b.fleet.start();
    const gw = connection('gw1', 1);
    b.local.add(gw.c);
    b.fleet.agentConnected('gw1');
    await settle();
    expect(a.fleet.replicaOf('gw1')).toBe('hub-b');
    expect(a.fleet.channels.get('gw1')?.send(deploy)).toBe(true);
    await settle();
    expect(gw.sent).toEqual([deploy]);
    // Unknown and disconnected agents have no channel: the deployer sends on their reconnect instead.
    expect(a.fleet.channels.get('nobody')).toBeUndefined();
    b.fleet.agentDisconnected('gw1');
    await settle();
    expect(a.fleet.channels.get('gw1')).toBeUndefined();
  });

  it('knows at start where agents are from storage', async () => {
    const { a } = twoReplicas([{ id: 'gw1', connectedTo: 'hub-b' }, { id: 'gw2', connectedTo: null }]);
    await a.fleet.start();
    expect(a.fleet.replicaOf('gw1')).toBe('hub-b');
    expect(a.fleet.replicaOf('gw2')).toBeUndefined();
  });

  it('closes an older connection of an agent that connected to another replica, not a newer one', async () => {
    const { a, b } = twoReplicas();
    await a.fleet.start();
    await b.fleet.start();
    const stale = connection('gw1', Date.now() - 60_000);
    a.local.add(stale.c);
    b.fleet.agentConnected('gw1');
    await settle();
    expect(stale.closed).toEqual([{ code: CLOSE_CODES.REPLACED, reason: 'the agent connected to hub replica hub-b' }]);

    const fresh = connection('gw2', Date.now() + 60_000);
    a.local.add(fresh.c);
    b.fleet.agentConnected('gw2');
    await settle();
    expect(fresh.closed).toEqual([]);
  });

  it('disconnects a revoked agent on whichever replica holds it', async () => {
    const { a, b } = twoReplicas();
    await a.fleet.start();
    await b.fleet.start();
    const gw = connection('gw1', 1);
    b.local.add(gw.c);
    a.fleet.disconnectEverywhere('gw1', CLOSE_CODES.REVOKED, 'the agent token was revoked');
    await settle();
    expect(gw.closed).toEqual([{ code: CLOSE_CODES.REVOKED, reason: 'the agent token was revoked' }]);
  });

  it('ignores malformed messages from the bus', async () => {
    const { a } = twoReplicas();
    await a.fleet.start();
    const seen: unknown[] = [];
    a.fleet.on((m) => seen.push(m));
    a.fleet.send({ type: 'agent-connected', agent: 'gw1', replica: 'hub-b', at: 1 });
    await (a.fleet as unknown as { deps: { storage: HubStorage } }).deps.storage.publish({ type: 'nonsense' });
    await settle();
    expect(seen).toEqual([{ type: 'agent-connected', agent: 'gw1', replica: 'hub-b', at: 1 }]);
  });

  it('refuses to start a second replica with the id of one that is running (shared storage)', async () => {
    const { a, b } = twoReplicas([], 'postgres', ['hub-a', 'hub-a']);
    await a.fleet.start();
    await expect(b.fleet.start()).rejects.toMatchObject({ code: 'VIGIL_CONFIG_INVALID', message: expect.stringContaining('another hub replica is running with hub.id hub-a') });
    const other = twoReplicas([], 'postgres', ['hub-a', 'hub-b']);
    await other.a.fleet.start();
    await expect(other.b.fleet.start()).resolves.toBeUndefined();
  });
});
