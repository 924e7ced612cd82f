import { rmSync } from 'node:fs';
import { open } from 'lmdb';
import { WebSocketServer } from 'ws';
import { MAX_MESSAGE_BYTES } from '../../../shared/sync-protocol.js';

/**
 * Role process for bench:sync — the durable floor's receiving end: the least
 * any hub that acks only stored batches can do. Per message: the header is
 * parsed (the text before `,"records":[`), the records' bytes are stored as
 * received in one LMDB value (no parsing, no validation, no index), and the
 * ack goes out when lmdb-js reports the write committed to disk. Argument:
 * the LMDB folder. IPC out: { port }.
 */
const dir = process.argv[2];
if (!dir) throw new Error('durable-floor-peer: give the LMDB folder');
rmSync(dir, { recursive: true, force: true });
const env = open({ path: dir, mapSize: 16 * 1024 ** 3 });
const batches = env.openDB<Buffer, [string, number]>({ name: 'batches', encoding: 'binary' });
const cursors = env.openDB<number, string>({ name: 'cursors' });
const MARK = Buffer.from(',"records":[');

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: MAX_MESSAGE_BYTES });
wss.on('connection', (ws) =>
  ws.on('message', (data: Buffer) => {
    const at = data.indexOf(MARK);
    const header = JSON.parse(`${data.toString('utf8', 0, at)}}`) as { epoch: string; first: number; last: number };
    void batches.put([header.epoch, header.first], data.subarray(at + MARK.length - 1, data.length - 1));
    // Both puts share the next transaction; its promise settles at the commit,
    // `flushed` after it once the commit is on disk (overlapping sync: the
    // fsync of one commit overlaps the next transaction).
    void cursors
      .put(header.epoch, header.last)
      .then(() => env.flushed)
      .then(() => ws.send(JSON.stringify({ type: 'ack', stream: 'scores', epoch: header.epoch, upTo: header.last })));
  }),
);
wss.on('listening', () => {
  const address = wss.address();
  process.send?.({ port: address !== null && typeof address === 'object' ? address.port : 0 });
});
process.on('message', (m: { stop?: boolean }) => {
  if (!m.stop) return;
  void env.close().then(() => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
});
