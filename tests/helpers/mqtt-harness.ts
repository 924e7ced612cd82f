import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { silentLogger } from '../../shared/logger.js';
import type { Sample } from '../../shared/sample.js';
import { MqttSourceSchema, MqttTagSchema, type MqttSourceConfig, type MqttTagConfig } from '../../agent/config/schema.js';
import type { SourceContext } from '../../agent/sources/source.js';

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
