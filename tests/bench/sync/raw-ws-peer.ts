import { WebSocketServer } from 'ws';
import { MAX_MESSAGE_BYTES } from '../../../shared/sync-protocol.js';

/**
 * Role process for bench:sync — the ceiling's receiving end: a bare ws server
 * in its own process (as the hub is) that answers every message with a small
 * ack and does nothing else: no parsing, no storage. IPC out: { port }.
 */
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: MAX_MESSAGE_BYTES });
const ACK = JSON.stringify({ type: 'ack', stream: 'scores', epoch: 'ceiling', upTo: 0 });
wss.on('connection', (ws) => ws.on('message', () => ws.send(ACK)));
wss.on('listening', () => {
  const address = wss.address();
  process.send?.({ port: address !== null && typeof address === 'object' ? address.port : 0 });
});
process.on('message', (m: { stop?: boolean }) => m.stop && process.exit(0));
