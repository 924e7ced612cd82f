import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { checkPackageSignature } from '../../../shared/package-signature.js';
import { MAX_MESSAGE_BYTES, PROTOCOL_VERSIONS, parseHubMessage, type Deploy } from '../../../shared/sync-protocol.js';
import { health } from '../../helpers/raw-sync-client.js';

/**
 * Role process for bench:sync: many simulated agents on one hub, each its own
 * websocket speaking the real protocol (hello, heartbeats, deploy → download
 * over HTTP with its token → signature check → model_status). Runs in its own
 * process so the hub's CPU and RSS are the hub's.
 *
 * argv: <hub url> <agents.json [{id, token}]> <public key file> <heartbeat ms>
 * IPC out: { connected } once all are welcomed; { active, deployment, at } per agent.
 */

const [hubArg, agentsFile, publicKeyFile, heartbeatText] = process.argv.slice(2);
if (!hubArg || !agentsFile || !publicKeyFile) throw new Error('usage: sim-agents <hub url> <agents.json> <public key file> [heartbeat ms]');
const hubUrl: string = hubArg;
const agents = JSON.parse(readFileSync(agentsFile, 'utf8')) as Array<{ id: string; token: string }>;
const publicKey = readFileSync(publicKeyFile, 'utf8');
const heartbeatMs = Number(heartbeatText ?? 10_000);
const send = (message: unknown) => process.send?.(message);
const models = (active: string | null) => [{ name: 'bench-pca', active, shadow: null, previous: null, state: active ? ('scoring' as const) : ('no version' as const) }];

let welcomed = 0;
let failures = 0;

function connect(agent: { id: string; token: string }): Promise<void> {
  const headers = { authorization: `Bearer ${agent.token}`, 'x-vigil-agent': agent.id };
  const ws = new WebSocket(`${hubUrl.replace(/^http/, 'ws')}/sync`, { headers, maxPayload: MAX_MESSAGE_BYTES });
  let active: string | null = null;
  const status = (d: Deploy, s: 'downloading' | 'active' | 'shadow' | 'refused', reason?: string) =>
    ws.send(JSON.stringify({ type: 'model_status', deployment: d.deployment, model: d.model, version: d.version, status: s, ...(reason ? { reason } : {}), at: Date.now() }));
  const onDeploy = async (d: Deploy) => {
    status(d, 'downloading');
    const response = await fetch(hubUrl + d.url, { headers });
    const bytes = new Uint8Array(await response.arrayBuffer());
    const check = checkPackageSignature(bytes, d.sha256, d.signature, publicKey);
    if (!check.ok) return status(d, 'refused', check.reason);
    if (d.mode === 'activate') active = d.version;
    status(d, d.mode === 'activate' ? 'active' : 'shadow');
    if (d.mode === 'activate') send({ active: agent.id, deployment: d.deployment, at: Date.now() });
  };
  return new Promise((resolve) => {
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'hello', protocols: [...PROTOCOL_VERSIONS], agent: agent.id, software: 'sim', epoch: randomBytes(8).toString('hex'), acked: { scores: 0, episodes: 0, events: 0 }, models: models(active), sentAt: Date.now() }));
    });
    ws.on('message', (data: Buffer) => {
      const parsed = parseHubMessage(data);
      if (!parsed.ok) return;
      const m = parsed.message;
      if (m.type === 'welcome') {
        welcomed++;
        // Spread heartbeats over the interval, as real agents started at different times would.
        setTimeout(() => {
          const timer = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ type: 'heartbeat', sentAt: Date.now(), health: health(), models: models(active) })), heartbeatMs);
          ws.once('close', () => clearInterval(timer));
        }, Math.random() * heartbeatMs);
        resolve();
      } else if (m.type === 'deploy') void onDeploy(m).catch(() => failures++);
    });
    ws.on('error', () => {
      failures++;
      resolve();
    });
  });
}

// Connect in waves of 100: a thousand gateways do not all open their sockets in the same millisecond.
for (let i = 0; i < agents.length; i += 100) await Promise.all(agents.slice(i, i + 100).map(connect));
send({ connected: welcomed, failures });
process.on('message', (m: { stop?: boolean }) => {
  if (m.stop) process.exit(0);
});
