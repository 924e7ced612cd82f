import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { encodeSparkplug } from '../sources/mqtt/sparkplug.js';

/**
 * A simulated packaging line behind an embedded MQTT broker (aedes), for
 * `vigil demo` and tests. It publishes every payload format the MQTT source
 * reads, on the topics DEMO_MQTT_TAGS describes:
 *   plant/<line>/pump/<n>/<temp|pressure|flow>  JSON {"value", "ts", "quality"}
 *   plant/<line>/vibration                       JSON array of 20 samples {"name", "value", "ts"}
 *   plant/<line>/tank/<n>/level                  plain number
 *   spBv1.0/plant1/…/edge1[/compressor1]         Sparkplug B births, DDATA by alias, rebirth on request
 */

export interface MqttPlantOptions {
  /** Port of the broker; 0 picks a free one. Default 0. */
  port?: number;
  /** Lines line1…lineN. Default 1. */
  lines?: number;
  /** Publications per second on each topic. Default 1. */
  rateHz?: number;
  /** Publish the Sparkplug B edge node. Default true. */
  sparkplug?: boolean;
}

export interface MqttPlant {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export const PLANT_PUMPS = 3;
export const PLANT_TANKS = 2;
export const PLANT_PUMP_SIGNALS = { temp: [55, 4], pressure: [6.2, 0.4], flow: [120, 9] } as const;
export const PLANT_SPARKPLUG_GROUP = 'plant1';
export const PLANT_SPARKPLUG_NODE = 'edge1';
export const PLANT_SPARKPLUG_DEVICE = 'compressor1';
const COMPRESSOR_METRICS = [
  { name: 'Outlet/Pressure', alias: 1, base: 7.5, swing: 0.3 },
  { name: 'Outlet/Temperature', alias: 2, base: 82, swing: 3 },
  { name: 'Motor/Current', alias: 3, base: 41, swing: 2 },
] as const;
const BATCH_SIZE = 20;

/** Tag lines that read everything the plant publishes on line1 (source name `plant`). */
export const DEMO_MQTT_TAGS = [
  { name: '{1}.pump{3}.{4}', source: 'plant', topic: 'plant/+/pump/+/+', format: 'json', json: { value: 'value', timestamp: 'ts', quality: 'quality' } },
  { name: '{1}.vibration.{name}', source: 'plant', topic: 'plant/+/vibration', format: 'json', json: { value: 'value', timestamp: 'ts', name: 'name' } },
  { name: '{1}.tank{3}.level', source: 'plant', topic: 'plant/+/tank/+/level', format: 'number' },
  { name: 'compressor1.{metric}', source: 'plant', topic: `spBv1.0/${PLANT_SPARKPLUG_GROUP}/+/${PLANT_SPARKPLUG_NODE}/${PLANT_SPARKPLUG_DEVICE}`, format: 'sparkplug', metric: '*' },
] as const;

/** A slow sine plus noise: values that look like a process, not like random numbers. */
function signal(base: number, swing: number, t: number, phase: number): number {
  const v = base + swing * Math.sin(t / 30_000 + phase) + (swing / 5) * (Math.random() - 0.5);
  return Math.round(v * 100) / 100;
}

export async function startMqttPlant(opts: MqttPlantOptions = {}): Promise<MqttPlant> {
  const lines = opts.lines ?? 1;
  const periodMs = Math.max(1, Math.round(1000 / (opts.rateHz ?? 1)));
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `mqtt://127.0.0.1:${port}`;

  const bdSeq = 0;
  let seq = 0;
  const nextSeq = () => {
    const s = seq;
    seq = (seq + 1) & 0xff;
    return s;
  };
  const sparkplug = opts.sparkplug ?? true;
  const nodeTopic = (type: string) => `spBv1.0/${PLANT_SPARKPLUG_GROUP}/${type}/${PLANT_SPARKPLUG_NODE}`;
  const deviceTopic = (type: string) => `${nodeTopic(type)}/${PLANT_SPARKPLUG_DEVICE}`;

  // aedes speaks MQTT 3.1.1. The will is the Sparkplug death certificate.
  const client: MqttClient = await mqtt.connectAsync(url, {
    clientId: `vigil-demo-plant-${port}`,
    protocolVersion: 4,
    reconnectPeriod: 0,
    ...(sparkplug
      ? { will: { topic: nodeTopic('NDEATH'), payload: encodeSparkplug({ timestamp: Date.now(), metrics: [{ name: 'bdSeq', type: 'UInt64', value: bdSeq }] }), qos: 1 as const, retain: false } }
      : {}),
  });

  const publishBirths = () => {
    const now = Date.now();
    seq = 0;
    client.publish(nodeTopic('NBIRTH'), encodeSparkplug({
      timestamp: now,
      seq: nextSeq(),
      metrics: [
        { name: 'bdSeq', type: 'UInt64', value: bdSeq },
        { name: 'Node Control/Rebirth', type: 'Boolean', value: false },
      ],
    }), { qos: 0 });
    client.publish(deviceTopic('DBIRTH'), encodeSparkplug({
      timestamp: now,
      seq: nextSeq(),
      metrics: COMPRESSOR_METRICS.map((m, i) => ({ name: m.name, alias: m.alias, type: 'Double' as const, value: signal(m.base, m.swing, now, i) })),
    }), { qos: 0 });
  };
  if (sparkplug) {
    // A host application that missed the births asks for them again (Sparkplug B rebirth).
    await client.subscribeAsync(nodeTopic('NCMD'), { qos: 0 });
    client.on('message', (_topic, payload) => {
      if (payload.length > 0) publishBirths();
    });
    publishBirths();
  }

  const timer = setInterval(() => {
    const now = Date.now();
    for (let l = 1; l <= lines; l++) {
      const line = `line${l}`;
      for (let p = 1; p <= PLANT_PUMPS; p++) {
        for (const [metric, [base, swing]] of Object.entries(PLANT_PUMP_SIGNALS)) {
          const value = signal(base, swing, now, p + l);
          client.publish(`plant/${line}/pump/${p}/${metric}`, JSON.stringify({ value, ts: now, quality: 'good' }), { qos: 0 });
        }
      }
      for (let t = 1; t <= PLANT_TANKS; t++) client.publish(`plant/${line}/tank/${t}/level`, String(signal(63, 20, now, t * 2)), { qos: 0 });
      // A vibration sensor samples faster than it publishes: each message carries a batch.
      const batch = Array.from({ length: BATCH_SIZE }, (_, i) => {
        const ts = now - periodMs + Math.round((i * periodMs) / BATCH_SIZE);
        return { name: i % 2 === 0 ? 'x' : 'y', value: signal(0, 2.5, ts * 50, i), ts };
      });
      client.publish(`plant/${line}/vibration`, JSON.stringify(batch), { qos: 0 });
    }
    if (sparkplug) {
      client.publish(deviceTopic('DDATA'), encodeSparkplug({
        timestamp: now,
        seq: nextSeq(),
        metrics: COMPRESSOR_METRICS.map((m, i) => ({ alias: m.alias, type: 'Double' as const, value: signal(m.base, m.swing, now, i), timestamp: now })),
      }), { qos: 0 });
    }
  }, periodMs);
  timer.unref();

  let stopped = false;
  return {
    url,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (sparkplug) {
        await client.publishAsync(nodeTopic('NDEATH'), encodeSparkplug({ timestamp: Date.now(), metrics: [{ name: 'bdSeq', type: 'UInt64', value: bdSeq }] }), { qos: 0 }).catch(() => undefined);
      }
      await client.endAsync().catch(() => undefined);
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
