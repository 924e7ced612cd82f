import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { describeError } from '../../shared/errors.js';
import { HISTORY_CHUNK_SAMPLES, type AgentMessage, type HistoryRequest } from '../../shared/sync-protocol.js';
import type { HistoryRead } from '../store/history.js';

/** What answering needs of the store: its raw history ring. */
export interface HistoryReader {
  read(tag: string, from: number, to: number): HistoryRead;
}

/** Sends one message on the current connection; false when it is gone (the answer is then abandoned). */
export type SendToHub = (message: AgentMessage) => boolean;

/**
 * Answers a hub's history_request from the raw history ring: per tag, chunks
 * of at most HISTORY_CHUNK_SAMPLES (`last` on the final chunk of the final
 * tag), or one history_error when a tag has no samples in the period (an
 * unknown tag, a period outside the ring) or more than `maxSamples`.
 *
 * Every tag is read and checked before the first chunk goes out, so the hub
 * never gets half an answer followed by an error. Between tags and chunks it
 * yields to the event loop: a long answer does not hold back ingest or scoring.
 */
export async function answerHistoryRequest(request: HistoryRequest, history: HistoryReader | undefined, send: SendToHub): Promise<void> {
  const fail = (message: string) => void send({ type: 'history_error', request: request.request, message });
  if (!history) return fail('this agent keeps no raw history');
  if (!(request.from <= request.to)) return fail(`the period ends (${request.to}) before it starts (${request.from})`);
  const reads: Array<{ tag: string; read: HistoryRead }> = [];
  try {
    for (const tag of request.tags) {
      const read = history.read(tag, request.from, request.to);
      if (read.ts.length === 0) return fail(`no samples of tag ${tag} between ${new Date(request.from).toISOString()} and ${new Date(request.to).toISOString()} (unknown tag, or a period outside the history kept)`);
      if (read.ts.length > request.maxSamples) return fail(`tag ${tag} has ${read.ts.length} samples in the period, more than the ${request.maxSamples} asked for at most; choose a shorter period`);
      reads.push({ tag, read });
      await yieldToEventLoop();
    }
  } catch (err) {
    return fail(`reading the history failed: ${describeError(err)}`);
  }
  for (let t = 0; t < reads.length; t++) {
    const { tag, read } = reads[t]!;
    for (let start = 0; start < read.ts.length; start += HISTORY_CHUNK_SAMPLES) {
      const end = Math.min(start + HISTORY_CHUNK_SAMPLES, read.ts.length);
      const last = t === reads.length - 1 && end === read.ts.length;
      const sent = send({ type: 'history_chunk', request: request.request, tag, ts: read.ts.slice(start, end), values: read.values.slice(start, end), quality: read.quality.slice(start, end), last });
      if (!sent) return;
      await yieldToEventLoop();
    }
  }
}
