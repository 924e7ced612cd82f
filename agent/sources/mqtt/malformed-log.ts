import type { Logger } from '../../../shared/logger.js';

const MALFORMED_HINT = "payload dropped; check what the device publishes against the tag's format and json paths";
const HINTS: Record<string, string> = {
  unmapped_topic: 'no tag line matches this topic (a subscription left in the persistent session by an older configuration?); message dropped',
  unresolved_name: 'the tag name template needs a topic level or payload field this message lacks; sample dropped',
  unknown_alias: 'the Sparkplug birth of this edge node was not seen; metric dropped and a rebirth requested',
  payload_too_large: 'payload larger than the limit; dropped unread',
  sequence_gap: 'Sparkplug sequence number jumped: messages from this edge node were lost on the way',
  stale_death: 'an NDEATH from an earlier session of this edge node (other bdSeq) was ignored',
  too_many_nodes: 'too many Sparkplug edge nodes; message dropped',
  handler_error: 'decoding failed unexpectedly; message dropped (please report this)',
};

/**
 * Rate-limited warnings for malformed payloads: a device that sends garbage
 * 1000 times a second must not flood journald. At most one line per topic and
 * reason per interval; the next line says how many were suppressed meanwhile.
 */
export class MalformedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 60_000,
    private readonly maxKeys = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  report(topic: string, reason: string, detail?: string): void {
    let key = `${topic}\u0000${reason}`;
    let entry = this.last.get(key);
    if (!entry && this.last.size >= this.maxKeys) {
      key = `_other\u0000${reason}`;
      entry = this.last.get(key);
      topic = '_other';
    }
    const t = this.now();
    if (entry && t - entry.at < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(key, { at: t, suppressed: 0 });
    const hint = HINTS[reason] ?? MALFORMED_HINT;
    this.log.warn(
      { ...(hint === MALFORMED_HINT ? { code: 'VIGIL_MQTT_PAYLOAD_MALFORMED' } : {}), topic, reason, suppressed, ...(detail ? { detail } : {}) },
      `MQTT ${topic}: ${reason.replace(/_/g, ' ')}${suppressed ? ` (${suppressed} more since the last report)` : ''} — ${hint}`,
    );
  }
}
