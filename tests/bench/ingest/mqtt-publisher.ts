import { connect, type Socket } from 'node:net';
import { BROKER_HOST, BROKER_PORT, VARIANTS, trafficVariant, type MqttProfile } from './mqtt-traffic.js';
import { WindowMeter, runRole, sendEvent, serveCommands } from './child-meter.js';

/**
 * Floods the broker with QoS 0 PUBLISH packets as fast as it reads them.
 * Packets are encoded once, up front, and written as large buffers over a raw
 * socket (MQTT 3.1.1): the publisher must cost almost no CPU, so that on two
 * cores the broker and the subscriber under test get the machine.
 *
 * argv: <profile> <run>
 */

function remainingLength(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    bytes.push(b);
  } while (n > 0);
  return Buffer.from(bytes);
}

function utf8Field(s: string): Buffer {
  const body = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length);
  return Buffer.concat([len, body]);
}

function packet(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type]), remainingLength(body.length), body]);
}

function connectPacket(clientId: string): Buffer {
  // Protocol "MQTT" level 4, clean session, keep-alive 60 s.
  const header = Buffer.concat([utf8Field('MQTT'), Buffer.from([4, 0x02, 0, 60])]);
  return packet(0x10, Buffer.concat([header, utf8Field(clientId)]));
}

function publishQos0(topic: string, payload: string): Buffer {
  return packet(0x30, Buffer.concat([utf8Field(topic), Buffer.from(payload, 'utf8')]));
}

function awaitConnack(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no CONNACK from the broker within 5 s')), 5000);
    socket.once('data', (data: Buffer) => {
      clearTimeout(timer);
      if (data[0] === 0x20 && data[3] === 0) resolve();
      else reject(new Error(`broker refused the publisher: CONNACK ${data.toString('hex')}`));
    });
    socket.once('error', reject);
  });
}

runRole(async () => {
  const [profile, run] = process.argv.slice(2) as [MqttProfile, string];
  const buffers: Buffer[] = [];
  let perBuffer = 0;
  for (let v = 0; v < VARIANTS; v++) {
    const messages = trafficVariant(profile, run, v);
    perBuffer = messages.length;
    buffers.push(Buffer.concat(messages.map((m) => publishQos0(m.topic, m.payload))));
  }

  const socket = connect({ host: BROKER_HOST, port: BROKER_PORT });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(connectPacket(`bench-pub-${run}-${process.pid}`));
  await awaitConnack(socket);

  let sent = 0;
  let running = true;
  const meter = new WindowMeter(() => ({ messages: sent, samples: sent }));
  const flood = (async () => {
    let v = 0;
    while (running) {
      const ok = socket.write(buffers[v]!);
      sent += perBuffer;
      v = (v + 1) % VARIANTS;
      if (!ok) await new Promise<void>((resolve) => socket.once('drain', resolve));
    }
  })();

  serveCommands(meter, async () => {
    running = false;
    await flood;
    await new Promise<void>((resolve) => socket.end(Buffer.from([0xe0, 0x00]), resolve));
    return { sent };
  });
  sendEvent('ready');
});
