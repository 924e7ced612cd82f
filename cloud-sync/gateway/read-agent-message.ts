import { BatchSchema, MAX_BATCH_RECORDS, parseAgentMessage, type AgentMessage, type Batch, type ParseResult } from '../../shared/sync-protocol.js';
import { recordsText } from './records-text.js';

/**
 * A parsed message; for a batch also its records array as received, when it
 * could be cut (see records-text.ts). The cut reads every byte of the batch
 * (~1 µs per record), so it is made on first access only: a backend that
 * stores parsed records (PostgreSQL) never pays for it.
 */
export type ReadAgentMessage = ParseResult<AgentMessage> & { readonly recordsText?: Buffer };

/** The batch envelope without `records`: checked with zod as declared. */
const BatchEnvelopeSchema = BatchSchema.omit({ records: true });

/**
 * `parseAgentMessage` with a fast path for the message that comes by the
 * thousand: a batch. zod checks every one of a batch's 2,000 records
 * (building a copy of each); here the envelope is still checked with zod and
 * each record with `isPlainRecord`, which accepts only what
 * `OutboxRecordSchema` accepts (tests/unit/read-agent-message.test.ts
 * compares the two). Whatever the fast path does not accept goes through
 * `parseAgentMessage`, which decides — so the messages refused, and the error
 * texts, are exactly those of `parseAgentMessage`.
 */
export function readAgentMessage(data: Buffer): ReadAgentMessage {
  let json: unknown;
  try {
    json = JSON.parse(data.toString('utf8'));
  } catch {
    return parseAgentMessage(data);
  }
  if (isPlainBatch(json)) {
    let cut: Buffer | null | undefined;
    return {
      ok: true,
      message: json,
      get recordsText(): Buffer | undefined {
        if (cut === undefined) cut = recordsText(data);
        return cut ?? undefined;
      },
    };
  }
  return parseAgentMessage(data);
}

function isPlainBatch(json: unknown): json is Batch {
  if (typeof json !== 'object' || json === null || (json as { type?: unknown }).type !== 'batch') return false;
  const { records, ...envelope } = json as { records?: unknown };
  if (!Array.isArray(records) || records.length < 1 || records.length > MAX_BATCH_RECORDS) return false;
  if (!BatchEnvelopeSchema.safeParse(envelope).success) return false;
  for (const record of records) if (!isPlainRecord(record)) return false;
  return true;
}

/**
 * `OutboxRecordSchema` for values `JSON.parse` makes: an object with exactly
 * the keys seq, at and body (body may hold anything), seq a safe integer ≥ 1,
 * at a finite number.
 */
export function isPlainRecord(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  let keys = 0;
  for (const key in value) {
    if (key !== 'seq' && key !== 'at' && key !== 'body') return false;
    keys++;
  }
  if (keys !== 3) return false;
  const { seq, at } = value as { seq: unknown; at: unknown };
  return typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 1 && typeof at === 'number' && Number.isFinite(at);
}
