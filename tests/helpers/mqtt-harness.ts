import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { silentLogger } from '../../shared/logger.js';
import type { Sample } from '../../shared/sample.js';
import { MqttSourceSchema, MqttTagSchema, type MqttSourceConfig, type MqttTagConfig } from '../../agent/config/schema.js';
import type { SourceContext } from '../../agent/sources/source.js';
import { MqttSource } from '../../agent/sources/mqtt/mqtt-source.js';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { requireBroker } from './broker.js';

/** A topic prefix and id no other test run on this machine uses (the broker is shared). */
export function uniqueId(label: string): string {
  return `vt-${label}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export interface Collected {
  ctx: SourceContext;
  samples: Sample[];
  tagErrors: Map<string, string | undefined>;
}

export function collectingContext(agentId = 'test-agent'): Collected {
  const samples: Sample[] = [];
  const tagErrors = new Map<string, string | undefined>();
  const ctx: SourceContext = {
    agentId,
    dataDir: '/nonexistent',
    log: silentLogger(),
    sink: { push: (s) => (samples.push(s), true) },
    status: { tagError: (tag, message) => void tagErrors.set(tag, message) },
  };
  return { ctx, samples, tagErrors };
}

/** Source config through the real schema, so defaults are the ones users get. */
export function mqttSource(fields: Partial<MqttSourceConfig> & { url: string }): MqttSourceConfig {
  return MqttSourceSchema.parse({ name: 'broker1', type: 'mqtt', reconnect: { initialDelayMs: 100, maxDelayMs: 500 }, ...fields });
}

export function mqttTag(fields: Record<string, unknown>): MqttTagConfig {
  return MqttTagSchema.parse({ source: 'broker1', ...fields });
}

export async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function publisher(url: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, { clientId: uniqueId('pub'), reconnectPeriod: 0 });
}

export interface MosquittoFixture {
  /** The broker URL (set in beforeAll). */
  url: string;
  /** A publisher connected to it (set in beforeAll). */
  pub: MqttClient;
  /** Starts an MqttSource on the broker with these tag lines and waits for its subscriptions; stopped after each test. */
  startSource(tags: Array<Record<string, unknown>>): Promise<Collected & { source: MqttSource }>;
}

/**
 * The machine's Mosquitto for one test file: fails (never skips) when it is
 * not running, connects a publisher, and stops the sources a test started.
 */
export function useMosquitto(): MosquittoFixture {
  const running: MqttSource[] = [];
  const fixture: MosquittoFixture = {
    url: '',
    pub: undefined as unknown as MqttClient,
    async startSource(tags) {
      const c = collectingContext(uniqueId('agent'));
      const source = new MqttSource(mqttSource({ url: fixture.url, clientId: uniqueId('c'), sessionExpirySeconds: 5 }), tags.map(mqttTag), c.ctx);
      running.push(source);
      await source.start();
      await source.subscribed;
      return { source, ...c };
    },
  };
  beforeAll(async () => {
    fixture.url = await requireBroker();
    fixture.pub = await publisher(fixture.url);
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.stop()));
  });
  afterAll(async () => {
    await fixture.pub?.endAsync();
  });
  return fixture;
}
