import { VigilError } from '../../shared/errors.js';
import type { FetchedSeries, HistoryRequests } from '../gateway/history-requests.js';
import type { TrainingSegment, TrainingSource } from './training-data.js';

/** Most samples per tag fetched for one period: the hub holds them all in memory while it trains. */
export const MAX_TRAINING_SAMPLES_PER_TAG = 1_000_000;

/** Fetched history as one training segment; bad samples and missing values are marked, not dropped. */
export function fetchedSegment(source: TrainingSource, fetched: readonly FetchedSeries[]): TrainingSegment {
  return {
    source,
    series: fetched.map((s) => ({
      tag: s.tag,
      ts: Float64Array.from(s.ts),
      values: Float64Array.from(s.values, (v) => v ?? NaN),
      bad: Uint8Array.from(s.quality, (q) => (q === 'bad' ? 1 : 0)),
    })),
  };
}

export type HistoryRead = { ok: true; series: FetchedSeries[] } | { ok: false; reason: string };

/**
 * Raw history of a model's tags from the agents that recorded it, for
 * retraining (through the hub's history requests, so across replicas too).
 * An agent that is not connected or does not answer is asked only once per
 * retraining: later reads of it fail at once with the same reason, instead
 * of each waiting out the request timeout. An agent's own refusal (no
 * samples in that period, too many) concerns one period only.
 */
export class AgentHistoryReader {
  private readonly unreachable = new Map<string, string>();

  constructor(
    private readonly history: Pick<HistoryRequests, 'fetch'>,
    private readonly tags: readonly string[],
  ) {}

  async read(agent: string, from: number, to: number): Promise<HistoryRead> {
    const known = this.unreachable.get(agent);
    if (known !== undefined) return { ok: false, reason: known };
    try {
      return { ok: true, series: await this.history.fetch(agent, { tags: [...this.tags], from, to, maxSamples: MAX_TRAINING_SAMPLES_PER_TAG }) };
    } catch (err) {
      if (!(err instanceof VigilError)) throw err;
      const reason = err.message;
      // VIGIL_TRAINING_DATA_INVALID is the agent's answer about this period; anything else means the agent could not be asked.
      if (err.code !== 'VIGIL_TRAINING_DATA_INVALID') this.unreachable.set(agent, reason);
      return { ok: false, reason };
    }
  }
}
