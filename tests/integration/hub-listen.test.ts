import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { IDLE_KEEP_ALIVE_MS, listenHub } from '../../cloud-sync/server/listen.js';

/** Sends GET / on `agent`'s pooled connection; resolves with the socket it used. */
function get(url: string, agent: import('node:http').Agent): Promise<import('node:net').Socket> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(req.socket!));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the hub port keeps idle keep-alive connections open', () => {
  it('longer than clients and balancers keep theirs, so a reused connection is never one the hub just closed', async () => {
    const hub = await listenHub({ host: '127.0.0.1', port: 0 }, (_req, res) => res.end('ok'));
    const { Agent } = await import('node:http');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(hub.server.keepAliveTimeout).toBe(IDLE_KEEP_ALIVE_MS);
      expect(IDLE_KEEP_ALIVE_MS).toBeGreaterThan(60_000);
      expect(hub.server.headersTimeout).toBeGreaterThan(hub.server.keepAliveTimeout);
      const first = await get(hub.url, agent);
      // Past Node's default of 5 s (and its grace) the connection is still the same one.
      await new Promise((r) => setTimeout(r, 7_000));
      const second = await get(hub.url, agent);
      expect(second).toBe(first);
    } finally {
      agent.destroy();
      await hub.close();
    }
  }, 20_000);
});
