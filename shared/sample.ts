/** Quality of one sample, as a plant user reads it. OPC UA status codes and
 * Sparkplug/JSON quality fields are mapped onto these three levels. */
export type Quality = 'good' | 'uncertain' | 'bad';

/**
 * One value of one tag at one instant — the only thing sources emit.
 * `ts` is milliseconds since the Unix epoch, taken from the source timestamp
 * when the source gives one (OPC UA SourceTimestamp, a JSON timestamp field,
 * Sparkplug metric timestamp), otherwise the time the agent received it.
 * `value` is numeric: booleans become 0/1; a bad-quality sample may carry NaN.
 */
export interface Sample {
  tag: string;
  ts: number;
  value: number;
  quality: Quality;
}

export const QUALITIES: readonly Quality[] = ['good', 'uncertain', 'bad'];
