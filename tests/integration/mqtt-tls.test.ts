import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttSource } from '../../agent/sources/mqtt/mqtt-source.js';
import { collectingContext, mqttSource, mqttTag, waitFor } from '../helpers/mqtt-harness.js';

/** A broker behind TLS with a certificate of a throwaway CA, made with the openssl CLI. */
let dir: string;
let server: Server;
let broker: Aedes;
let url: string;

function openssl(...args: string[]) {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-mqtt-tls-'));
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=Vigil Test CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'broker.key', '-out', 'broker.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost\n');
  openssl('x509', '-req', '-in', 'broker.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'broker.pem', '-days', '1', '-extfile', 'san.ext');
}, 30_000);

beforeAll(async () => {
  broker = await Aedes.createBroker();
  server = createServer({ key: readFileSync(join(dir, 'broker.key')), cert: readFileSync(join(dir, 'broker.pem')) }, broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `mqtts://localhost:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
  if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('MQTT source over TLS', () => {
  it('connects to a broker whose certificate is signed by tls.caFile, and receives data', async () => {
    const { ctx, samples } = collectingContext();
    const source = new MqttSource(mqttSource({ url, tls: { caFile: join(dir, 'ca.pem'), rejectUnauthorized: true } }), [mqttTag({ name: 't', topic: 'secure/x', format: 'number' })], ctx);
    await source.start();
    try {
      await source.subscribed;
      const pub = await mqtt.connectAsync(url, { ca: readFileSync(join(dir, 'ca.pem')), reconnectPeriod: 0 });
      await pub.publishAsync('secure/x', '1.25', { qos: 1 });
      await pub.endAsync();
      await waitFor(() => samples.length === 1, 'a sample over TLS');
      expect(samples[0]).toMatchObject({ tag: 't', value: 1.25 });
    } finally {
      await source.stop();
    }
  });

  it('refuses a broker certificate it cannot verify, and says what to set', async () => {
    const { ctx } = collectingContext();
    const source = new MqttSource(mqttSource({ url, tls: { rejectUnauthorized: true } }), [mqttTag({ name: 't', topic: 'secure/x', format: 'number' })], ctx);
    await source.start();
    try {
      await waitFor(() => source.health().lastError !== undefined, 'the TLS error');
      expect(source.health().connected).toBe(false);
      expect(source.health().lastError).toMatch(/VIGIL_MQTT_CONNECT_FAILED: the TLS certificate of mqtts:\/\/localhost:\d+ does not verify \(\w+\); set tls\.caFile/);
    } finally {
      await source.stop();
    }
  });
});
