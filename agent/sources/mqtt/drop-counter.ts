import { countInto } from '../source.js';

/**
 * Drops by reason for the source counters, and by topic and reason for
 * /metrics. Topics are bounded: beyond `maxTopics` distinct topics, further
 * ones are counted under `_other`, so a fuzzing client cannot grow memory.
 */
export class DropCounter {
  private readonly topics = new Map<string, Record<string, number>>();

  constructor(
    private readonly byReason: Record<string, number>,
    private readonly maxTopics = 1000,
  ) {}

  count(topic: string, reason: string, n = 1): void {
    countInto(this.byReason, reason, n);
    let perTopic = this.topics.get(topic);
    if (!perTopic) {
      if (this.topics.size >= this.maxTopics) topic = '_other';
      perTopic = this.topics.get(topic);
      if (!perTopic) {
        perTopic = {};
        this.topics.set(topic, perTopic);
      }
    }
    countInto(perTopic, reason, n);
  }

  byTopic(): Map<string, Record<string, number>> {
    return this.topics;
  }
}
