import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE_CODES, MAX_MESSAGE_BYTES } from '../../shared/sync-protocol.js';
import { api, startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { batch, connectSync, heartbeat, hello } from '../helpers/raw-sync-client.js';

// One real `vigil hub` process; raw websocket clients speak the protocol by hand.
let hub: HubProcess;
let admin: string;
const tokens = new Map<string, string>();

async function agentToken(id: string): Promise<string> {
  const created = await api(hub.url, '/api/agents', { token: admin, body: { id, labels: { line: '1' } } });
  expect(created.status).toBe(201);
  tokens.set(id, created.json.token);
  return created.json.token as string;
}

async function connected(id: string, epoch = 'epoch-1') {
  const client = await connectSync(hub.syncUrl, id, tokens.get(id) ?? (await agentToken(id)));
  client.send(hello(id, epoch));
  const welcome = await client.next('welcome');
  return { client, welcome };
}

const score = (i: number) => ({ model: 'pump-pca', version: '1.0.0', shadow: false, start: i * 1000, end: i * 1000 + 1000, status: 'scored', score: 0.1 * i, level: 'ok', contributions: null, quality: { filledShare: 0, badShare: 0 } });

beforeAll(async () => {
  hub = await startHubProcess({ sync: { heartbeatMs: 1000, offlineAfterMs: 3000 } });
  admin = await hub.addApiToken('test-admin', 'admin');
});

afterAll(async () => {
  await hub?.stop();
});

describe('hub sync: hello, batches, acks', () => {
  it('welcomes with the stored cursors, stores batches, acks after storing, and ignores a resend', async () => {
    const { client, welcome } = await connected('gw-sync');
    expect(welcome).toMatchObject({ protocol: 1, hub: 'test-hub', stored: { scores: 0, episodes: 0, events: 0 }, heartbeatMs: 1000 });

    client.send(batch('scores', 'epoch-1', 1, [score(1), score(2), score(3)]));
    expect(await client.next('ack')).toEqual({ type: 'ack', stream: 'scores', epoch: 'epoch-1', upTo: 3 });
    client.send(batch('scores', 'epoch-1', 4, [score(4), score(5)]));
    expect(await client.next('ack')).toMatchObject({ upTo: 5 });

    // The agent lost the ack and sends the same batch again: acked again, stored once.
    client.send(batch('scores', 'epoch-1', 4, [score(4), score(5)]));
    expect(await client.next('ack')).toMatchObject({ upTo: 5 });
    const records = await api(hub.url, '/api/records/scores?agent=gw-sync&limit=1000', { token: admin });
    expect(records.status).toBe(200);
    expect(records.json.total).toBe(5);
    expect(records.json.records.map((r: { seq: number }) => r.seq)).toEqual([5, 4, 3, 2, 1]);
    expect(records.json.records[0]).toMatchObject({ agent: 'gw-sync', epoch: 'epoch-1', stream: 'scores', body: score(5) });

    const agents = await api(hub.url, '/api/agents/gw-sync', { token: admin });
    expect(agents.json).toMatchObject({ online: true, connectedTo: 'test-hub', software: '0.1.0-test', epoch: 'epoch-1' });
    await client.close();

    // Reconnecting: the welcome tells what the hub has for this epoch; a new epoch starts at 0.
    const again = await connected('gw-sync');
    expect(again.welcome.stored).toEqual({ scores: 5, episodes: 0, events: 0 });
    await again.client.close();
    const fresh = await connected('gw-sync', 'epoch-2');
    expect(fresh.welcome.stored).toEqual({ scores: 0, episodes: 0, events: 0 });
    await fresh.client.close();

    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/vigil_hub_records_duplicate_total\{stream="scores"\} 2/);
    expect(metrics).toMatch(/vigil_hub_records_ingested_total\{stream="scores"\} 5/);
  });

  it('shows an agent offline once its connection closed', async () => {
    const { client } = await connected('gw-leaves');
    expect((await api(hub.url, '/api/agents/gw-leaves', { token: admin })).json.online).toBe(true);
    await client.close();
    await expect.poll(async () => (await api(hub.url, '/api/agents/gw-leaves', { token: admin })).json.online).toBe(false);
  });

  it('notes clock skew from heartbeats and shows it with the health', async () => {
    const { client } = await connected('gw-skew');
    const sentAt = Date.now() + 3_600_000;
    client.send(heartbeat(sentAt, { backlog: { scores: 1234, episodes: 2, events: 1 }, dropsTotal: 7 }));
    const ack = await client.next('heartbeat_ack');
    expect(ack.agentSentAt).toBe(sentAt);
    expect(Math.abs(ack.skewMs - 3_600_000)).toBeLessThan(2000);

    const view = (await api(hub.url, '/api/agents', { token: admin })).json.agents.find((a: { id: string }) => a.id === 'gw-skew');
    expect(Math.abs(view.skewMs - 3_600_000)).toBeLessThan(2000);
    expect(view).toMatchObject({ skewed: true, online: true, health: { backlog: { scores: 1234, episodes: 2, events: 1 }, dropsTotal: 7, tagsLive: 11, tagsConfigured: 12 } });
    expect(JSON.stringify(view)).not.toMatch(/tokenHash|tokenSalt/);

    client.send(heartbeat(Date.now()));
    await client.next('heartbeat_ack');
    expect((await api(hub.url, '/api/agents/gw-skew', { token: admin })).json.skewed).toBe(false);
    await client.close();
  });

  it('a second connection of the same agent replaces the first', async () => {
    const first = await connected('gw-twice');
    const second = await connected('gw-twice');
    expect((await first.client.closed).code).toBe(CLOSE_CODES.REPLACED);
    second.client.send(batch('events', 'epoch-1', 1, [{ kind: 'source_connected', at: Date.now(), agent: 'gw-twice', message: 'plc1 connected' }]));
    expect(await second.client.next('ack')).toMatchObject({ stream: 'events', upTo: 1 });
    // The replaced connection's close must not mark the agent offline.
    expect((await api(hub.url, '/api/agents/gw-twice', { token: admin })).json.online).toBe(true);
    await second.client.close();
  });

  it('closes a silent connection with TIMEOUT and marks the agent offline', async () => {
    const { client } = await connected('gw-silent');
    const started = Date.now();
    expect((await client.closed).code).toBe(CLOSE_CODES.TIMEOUT);
    expect(Date.now() - started).toBeGreaterThan(2500);
    await expect.poll(async () => (await api(hub.url, '/api/agents/gw-silent', { token: admin })).json.online).toBe(false);
  });
});

describe('hub sync: protocol errors never take the hub down', () => {
  it('malformed JSON, a schema-invalid message and a batch before hello: error, close 4000; other agents go on', async () => {
    const bystander = await connected('gw-bystander');
    const token = await agentToken('gw-rude');

    const cases: Array<[string | object, RegExp]> = [
      ['{"type":"hello", nope', /not JSON/],
      [{ type: 'hello', agent: 'gw-rude' }, /protocols|expected/i],
      [batch('scores', 'epoch-1', 1, [score(1)]), /batch before hello/],
    ];
    for (const [message, why] of cases) {
      const client = await connectSync(hub.syncUrl, 'gw-rude', token);
      if (typeof message === 'string') client.sendRaw(message);
      else client.send(message);
      const error = await client.next('error');
      expect(error.code).toBe('VIGIL_SYNC_PROTOCOL');
      expect(error.message).toMatch(why);
      expect((await client.closed).code).toBe(CLOSE_CODES.PROTOCOL_ERROR);
    }

    // After hello: a batch of another epoch and a batch with seqs outside its range.
    const { client } = await connected('gw-rude');
    client.send(batch('scores', 'other-epoch', 1, [score(1)]));
    expect((await client.next('error')).message).toMatch(/epoch/);
    expect((await client.closed).code).toBe(CLOSE_CODES.PROTOCOL_ERROR);
    const again = await connected('gw-rude');
    again.client.send({ ...batch('scores', 'epoch-1', 1, [score(1), score(2)]), last: 1 });
    expect((await again.client.next('error')).message).toMatch(/after last/);
    expect((await again.client.closed).code).toBe(CLOSE_CODES.PROTOCOL_ERROR);
    expect((await api(hub.url, '/api/records/scores?agent=gw-rude', { token: admin })).json.total).toBe(0);

    bystander.client.send(batch('scores', 'epoch-1', 1, [score(1)]));
    expect(await bystander.client.next('ack')).toMatchObject({ upTo: 1 });
    await bystander.client.close();
  });

  it('no common protocol version: error, close UNSUPPORTED_VERSION', async () => {
    const client = await connectSync(hub.syncUrl, 'gw-future', await agentToken('gw-future'));
    client.send(hello('gw-future', 'e', { protocols: [99] }));
    expect((await client.next('error')).message).toMatch(/no common protocol version/);
    expect((await client.closed).code).toBe(CLOSE_CODES.UNSUPPORTED_VERSION);
  });

  it('a hello naming another agent than the token is a protocol error', async () => {
    const client = await connectSync(hub.syncUrl, 'gw-liar', await agentToken('gw-liar'));
    client.send(hello('gw-sync', 'e'));
    expect((await client.next('error')).message).toMatch(/token belongs to gw-liar/);
    expect((await client.closed).code).toBe(CLOSE_CODES.PROTOCOL_ERROR);
  });

  it('an oversized frame is closed with 1009 and the hub stays up', async () => {
    const { client } = await connected('gw-big');
    client.sendRaw(Buffer.alloc(MAX_MESSAGE_BYTES + 1024, 0x20));
    expect((await client.closed).code).toBe(CLOSE_CODES.MESSAGE_TOO_BIG);

    expect((await api(hub.url, '/api/health')).status).toBe(200);
    const after = await connected('gw-big');
    after.client.send(batch('scores', 'epoch-1', 1, [score(1)]));
    expect(await after.client.next('ack')).toMatchObject({ upTo: 1 });
    await after.client.close();
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/vigil_hub_protocol_errors_total\{reason="too_big"\} 1/);
    expect(metrics).toMatch(/vigil_hub_protocol_errors_total\{reason="malformed"\} 2/);
    expect(hub.process.child.exitCode).toBeNull();
  });
});

describe('hub shutdown', () => {
  it('SIGTERM closes agent connections with GOING_AWAY and exits 0', async () => {
    const { client } = await connected('gw-last');
    await expect.poll(async () => (await (await fetch(`${hub.url}/metrics`)).text()).match(/^vigil_hub_agents_connected (\d+)$/m)?.[1]).toBe('1');
    await hub.stop(true);
    expect((await client.closed).code).toBe(CLOSE_CODES.GOING_AWAY);
    expect(await hub.process.exited).toBe(0);
    expect(hub.process.stdout()).toContain('"msg":"hub stopped"');
  });
});
