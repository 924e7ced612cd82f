import { BatchSchema, MAX_BATCH_RECORDS, parseAgentMessage, type AgentMessage, type Batch, type ParseResult } from '../../shared/sync-protocol.js';
import { recordsText } from './records-text.js';

/**
 * A parsed message; for a batch also its records array as received, when it
 * could be cut with certainty. A batch as the agent writes it is parsed in
 * two parts that give the cut for free (splitBatchMessage); any other batch
 * is cut by records-text.ts, which reads every byte of it (~1 µs per record),
 * so that cut is made on first access only: a backend that stores parsed
 * records (PostgreSQL) never pays for it.
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
  const split = splitBatchMessage(data);
  if (split !== null) {
    if (isPlainBatch(split.json)) return { ok: true, message: split.json, recordsText: split.recordsText };
    return parseAgentMessage(data);
  }
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

const RECORDS_KEY = Buffer.from(',"records":[');
const COMMA = 0x2c;
const CLOSE_BRACE = 0x7d;

/**
 * A message as the agent writes a batch — `{…envelope…,"records":[…]}` —
 * parsed in two parts, the envelope (everything before `,"records":`, closed
 * with `}`) and the records array (from its `[` to before the final `}`);
 * null when either part is not JSON on its own (the caller then parses the
 * whole message). When both parts parse, the whole message is exactly that
 * object followed by one more member, `records`, as its LAST member — so its
 * parse is the envelope with `records` set (a duplicate key before it is
 * replaced, as JSON.parse does), and the array's bytes are the records as
 * received with certainty, without scanning 600 KB for where the array
 * closes (records-text.ts did, ~0.7 µs per record). The first `,"records":[`
 * cannot lie inside a string (its quotes would be escaped) and, when the
 * envelope part parses, not inside a nested value either (that part would
 * not be closed by one `}`).
 */
function splitBatchMessage(data: Buffer): { json: unknown; recordsText: Buffer } | null {
  const n = data.length;
  const at = data.indexOf(RECORDS_KEY);
  if (at < 1 || data[at] !== COMMA || data[n - 1] !== CLOSE_BRACE) return null;
  const arrayStart = at + RECORDS_KEY.length - 1;
  let envelope: unknown;
  let records: unknown;
  try {
    envelope = JSON.parse(`${data.toString('utf8', 0, at)}}`);
    if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope)) return null;
    records = JSON.parse(data.toString('utf8', arrayStart, n - 1));
  } catch {
    return null;
  }
  if (!Array.isArray(records)) return null;
  (envelope as { records?: unknown }).records = records;
  return { json: envelope, recordsText: data.subarray(arrayStart, n - 1) };
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
