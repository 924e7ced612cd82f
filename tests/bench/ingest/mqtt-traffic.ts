/**
 * The MQTT traffic of the ingest benchmark, shared by the publisher, both
 * subscribers and the checks. Values encode where they came from (the integer
 * part names the topic or sample), so the agent's output can be verified.
 */

export type MqttProfile = 'single' | 'batched';
export const MQTT_PROFILES: readonly MqttProfile[] = ['single', 'batched'];

export const BROKER_HOST = '127.0.0.1';
export const BROKER_PORT = 1883;

const LINES = 10;
const PUMPS = 100;
const BATCH_TOPICS = 50;
export const BATCH_SIZE = 20;
/** Distinct payload variants per topic; the fraction of each value and the ts offset say which. */
export const VARIANTS = 10;
export const BASE_TS = 1_700_000_000_000;

export function samplesPerMessage(profile: MqttProfile): number {
  return profile === 'single' ? 1 : BATCH_SIZE;
}

export function subscriptionFilter(profile: MqttProfile, run: string): string {
  return profile === 'single' ? `bench/${run}/line/+/pump/+/temp` : `bench/${run}/batch/+`;
}

export interface TrafficMessage {
  topic: string;
  payload: string;
}

/** Every message of one variant: one per topic (single) or one batch per batch topic. */
export function trafficVariant(profile: MqttProfile, run: string, variant: number): TrafficMessage[] {
  const ts = BASE_TS + variant;
  const out: TrafficMessage[] = [];
  if (profile === 'single') {
    for (let n = 1; n <= LINES; n++) {
      for (let m = 1; m <= PUMPS; m++) {
        out.push({ topic: `bench/${run}/line/${n}/pump/${m}/temp`, payload: JSON.stringify({ value: n * 1000 + m + variant / 10, ts }) });
      }
    }
    return out;
  }
  for (let b = 0; b < BATCH_TOPICS; b++) {
    const batch = [];
    for (let j = 0; j < BATCH_SIZE; j++) {
      const i = b * BATCH_SIZE + j;
      batch.push({ name: `p${i}`, value: i + variant / 10, ts });
    }
    out.push({ topic: `bench/${run}/batch/${b}`, payload: JSON.stringify(batch) });
  }
  return out;
}

/** The agent's tag rule for a profile: one template covers all topics (single) or all names (batched). */
export function agentTagInput(profile: MqttProfile, run: string): Record<string, unknown> {
  const common = { source: 'bench', topic: subscriptionFilter(profile, run), format: 'json', qos: 0 };
  return profile === 'single'
    ? { ...common, name: 'line{3}.pump{5}.temp', json: { value: 'value', timestamp: 'ts' } }
    : { ...common, name: 'batch.{name}', json: { value: 'value', timestamp: 'ts', name: 'name' } };
}

/** Tag names the agent must produce, each with the integer part its values carry. */
export function expectedTags(profile: MqttProfile): Map<string, number> {
  const out = new Map<string, number>();
  if (profile === 'single') {
    for (let n = 1; n <= LINES; n++) for (let m = 1; m <= PUMPS; m++) out.set(`line${n}.pump${m}.temp`, n * 1000 + m);
  } else {
    for (let i = 0; i < BATCH_TOPICS * BATCH_SIZE; i++) out.set(`batch.p${i}`, i);
  }
  return out;
}
