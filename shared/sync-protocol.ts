import { z } from 'zod';

/**
 * The sync protocol between agent and hub, declared once. Both sides parse
 * every incoming websocket message with `parseAgentMessage` /
 * `parseHubMessage`; anything that does not parse is a protocol error
 * (an `error` message, then close code PROTOCOL_ERROR), never a crash.
 *
 * Flow:
 *   agent ──hello──> hub                  (first message; protocol versions it speaks)
 *   agent <─welcome── hub                 (chosen version, the hub's stored seq per stream)
 *   agent ──batch──> hub ──stores──> ack  (at-least-once, idempotent by agent, epoch, stream, seq)
 *   agent ──heartbeat──> hub ──heartbeat_ack   (health; the hub notes clock skew)
 *   agent <─deploy── hub                  (a model version to fetch, verify, shadow or activate)
 *   agent ──model_status──> hub           (downloading, shadow, active, refused, failed, rolled_back)
 *   agent <─history_request── hub         (raw history of some tags over a period, for training)
 *   agent ──history_chunk…──> hub         (per tag, ≤ HISTORY_CHUNK_SAMPLES each; `last` on the final one)
 *   agent ──history_error──> hub          (instead of chunks: no such data, too many samples)
 *
 * Records are sent as the outbox holds them. Sequence numbers are gap-free per
 * (agent, epoch, stream) except where the agent evicted records under its disk
 * quota; an eviction is itself reported as a `store_eviction` event with the
 * exact range, so a gap is always explained.
 */

/** Protocol versions this build speaks; the highest common one is chosen in `welcome`. */
export const PROTOCOL_VERSIONS = [1] as const;
export const PROTOCOL_VERSION = 1;

/** Path of the websocket endpoint on the hub. */
export const SYNC_PATH = '/sync';

export const SYNC_STREAMS = ['scores', 'episodes', 'events'] as const;
export type SyncStream = (typeof SYNC_STREAMS)[number];

/** Bounds that make `maxPayload` a real limit: a batch never carries more. */
export const MAX_BATCH_RECORDS = 2_000;
/** Largest serialised batch an agent sends (an episode with its snapshot is ~30–60 KB). */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** The websocket `maxPayload` on both sides: the largest message plus framing headroom. */
export const MAX_MESSAGE_BYTES = MAX_BATCH_BYTES + 256 * 1024;

/** Websocket close codes (4000–4999 are for applications). */
export const CLOSE_CODES = {
  /** Normal shutdown of either side. */
  NORMAL: 1000,
  /** The hub is shutting down; reconnect later. */
  GOING_AWAY: 1001,
  /** ws closes with this itself when a frame exceeds maxPayload. */
  MESSAGE_TOO_BIG: 1009,
  /** A message did not parse or broke the protocol's order (e.g. batch before hello). */
  PROTOCOL_ERROR: 4000,
  /** No protocol version in common. */
  UNSUPPORTED_VERSION: 4001,
  /** The agent's token was revoked while it was connected. */
  REVOKED: 4003,
  /** Another connection of the same agent took over. */
  REPLACED: 4004,
  /** The hub did not hear from the agent within the heartbeat timeout. */
  TIMEOUT: 4008,
} as const;

/** Most tags one history request names. */
export const MAX_HISTORY_TAGS = 64;
/**
 * Most samples in one history_chunk: ~40 bytes of JSON each, so a chunk
 * stays far below MAX_MESSAGE_BYTES.
 */
export const HISTORY_CHUNK_SAMPLES = 50_000;

const seq = z.number().int().nonnegative();
const ms = z.number().finite();
const streamSchema = z.enum(SYNC_STREAMS);
const cursors = z.strictObject({ scores: seq, episodes: seq, events: seq });
/** Letters, digits, _ and - only: epochs become parts of storage keys. */
const epoch = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'an epoch of 1–64 letters, digits, _ or -');

/** Versions of one model on an agent, as its registry sees them. */
export const ModelVersionsSchema = z.strictObject({
  name: z.string().min(1),
  active: z.string().nullable(),
  shadow: z.string().nullable(),
  previous: z.string().nullable(),
  state: z.enum(['scoring', 'stopped', 'no version']),
});
export type ModelVersions = z.infer<typeof ModelVersionsSchema>;

export const AgentHealthSchema = z.strictObject({
  sourcesConnected: z.number().int().nonnegative(),
  sourcesTotal: z.number().int().nonnegative(),
  tagsLive: z.number().int().nonnegative(),
  tagsConfigured: z.number().int().nonnegative(),
  /** Records waiting in the outbox per stream. */
  backlog: cursors,
  backlogBytes: z.number().int().nonnegative(),
  /** Everything dropped since the agent started (sources, pipeline, windows, evictions). */
  dropsTotal: z.number().int().nonnegative(),
  /** Share of one core over the last heartbeat interval, 0–100 per core. */
  cpuPercent: z.number().nonnegative(),
  rssBytes: z.number().int().nonnegative(),
  uptimeS: z.number().nonnegative(),
  status: z.enum(['ok', 'degraded']),
  reasons: z.array(z.string()).max(50),
});
export type AgentHealth = z.infer<typeof AgentHealthSchema>;

export const OutboxRecordSchema = z.strictObject({
  seq: seq.min(1),
  /** Wall-clock time of the agent's append, ms. */
  at: ms,
  body: z.unknown(),
});
export type SyncRecord = z.infer<typeof OutboxRecordSchema>;

export const DEPLOYMENT_STATUSES = ['pending', 'downloading', 'shadow', 'active', 'refused', 'failed', 'rolled_back'] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

// ── agent → hub ────────────────────────────────────────────────────────────
export const HelloSchema = z.strictObject({
  type: z.literal('hello'),
  protocols: z.array(z.number().int().positive()).min(1),
  agent: z.string().min(1),
  software: z.string().min(1),
  /** Identifies the agent's store: a fresh store (first start, quarantine) starts seqs at 1 under a new epoch. */
  epoch,
  /** Highest seq per stream the agent has seen acknowledged. */
  acked: cursors,
  models: z.array(ModelVersionsSchema),
  /** Agent wall clock when sent, ms. */
  sentAt: ms,
});

export const BatchSchema = z.strictObject({
  type: z.literal('batch'),
  stream: streamSchema,
  epoch,
  /** The records' seq range: first ≤ every seq ≤ last; seqs strictly increasing. */
  first: seq.min(1),
  last: seq.min(1),
  records: z.array(OutboxRecordSchema).min(1).max(MAX_BATCH_RECORDS),
});

export const HeartbeatSchema = z.strictObject({
  type: z.literal('heartbeat'),
  sentAt: ms,
  health: AgentHealthSchema,
  models: z.array(ModelVersionsSchema),
});

export const ModelStatusSchema = z.strictObject({
  type: z.literal('model_status'),
  /** The deployment this answers, when the change came from one. */
  deployment: z.string().min(1).nullable(),
  model: z.string().min(1),
  version: z.string().min(1),
  status: z.enum(DEPLOYMENT_STATUSES),
  reason: z.string().max(4000).optional(),
  at: ms,
});

/** Part of the answer to a history_request: samples of one tag in time order. */
export const HistoryChunkSchema = z
  .strictObject({
    type: z.literal('history_chunk'),
    request: z.string().min(1).max(100),
    tag: z.string().min(1),
    ts: z.array(ms).max(HISTORY_CHUNK_SAMPLES),
    values: z.array(z.number().finite().nullable()).max(HISTORY_CHUNK_SAMPLES),
    quality: z.array(z.enum(['good', 'uncertain', 'bad'])).max(HISTORY_CHUNK_SAMPLES),
    /** True on the final chunk of the final tag: the answer is complete. */
    last: z.boolean(),
  })
  .refine((c) => c.values.length === c.ts.length && c.quality.length === c.ts.length, 'ts, values and quality must have the same length');

/** The agent cannot answer a history_request (no samples of a tag in the period, too many samples). */
export const HistoryErrorSchema = z.strictObject({
  type: z.literal('history_error'),
  request: z.string().min(1).max(100),
  message: z.string().max(4000),
});

export const AgentMessageSchema = z.discriminatedUnion('type', [HelloSchema, BatchSchema, HeartbeatSchema, ModelStatusSchema, HistoryChunkSchema, HistoryErrorSchema]);
export type AgentMessage = z.infer<typeof AgentMessageSchema>;
export type Hello = z.infer<typeof HelloSchema>;
export type Batch = z.infer<typeof BatchSchema>;
export type Heartbeat = z.infer<typeof HeartbeatSchema>;
export type ModelStatus = z.infer<typeof ModelStatusSchema>;
export type HistoryChunk = z.infer<typeof HistoryChunkSchema>;
export type HistoryError = z.infer<typeof HistoryErrorSchema>;

// ── hub → agent ────────────────────────────────────────────────────────────
export const WelcomeSchema = z.strictObject({
  type: z.literal('welcome'),
  protocol: z.number().int().positive(),
  hub: z.string().min(1),
  /** Highest seq per stream the hub has stored for this agent's epoch: the agent acks up to these and resends after them. */
  stored: cursors,
  /** How often the hub expects a heartbeat, ms. */
  heartbeatMs: z.number().int().positive(),
  hubTime: ms,
});

export const AckSchema = z.strictObject({
  type: z.literal('ack'),
  stream: streamSchema,
  epoch,
  /** Every record of the stream up to this seq is stored on the hub. */
  upTo: seq,
});

export const HeartbeatAckSchema = z.strictObject({
  type: z.literal('heartbeat_ack'),
  /** The agent's `sentAt`, echoed. */
  agentSentAt: ms,
  hubTime: ms,
  /** The hub's estimate of agent clock minus hub clock, ms. */
  skewMs: z.number().finite(),
});

/**
 * A model version for the agent. The agent fetches the package from `url`
 * (relative to the hub, with its token), checks `sha256` of the package bytes
 * and the ed25519 `signature` over them with the hub's public key before
 * anything else, then loads it in `mode`. A rollback is a deploy of the
 * previous version with `rollback: true`.
 */
export const DeploySchema = z.strictObject({
  type: z.literal('deploy'),
  deployment: z.string().min(1),
  model: z.string().min(1),
  version: z.string().min(1),
  mode: z.enum(['shadow', 'activate']),
  rollback: z.boolean(),
  /** sha256 (hex) of the whole package file. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** ed25519 signature of the package bytes, base64; empty means unsigned (refused). */
  signature: z.string(),
  url: z.string().min(1),
  size: z.number().int().nonnegative(),
});

export const ErrorMessageSchema = z.strictObject({
  type: z.literal('error'),
  code: z.string().min(1),
  message: z.string(),
});

/**
 * Raw history of `tags` with from ≤ ts ≤ to from the agent's store. The agent
 * answers with history_chunk messages (tag by tag) or one history_error; a
 * tag with more than `maxSamples` samples in the period is an error, not a
 * silently thinned answer (training wants every sample).
 */
export const HistoryRequestSchema = z.strictObject({
  type: z.literal('history_request'),
  request: z.string().min(1).max(100),
  tags: z.array(z.string().min(1)).min(1).max(MAX_HISTORY_TAGS),
  from: ms,
  to: ms,
  maxSamples: z.number().int().positive(),
});

export const HubMessageSchema = z.discriminatedUnion('type', [WelcomeSchema, AckSchema, HeartbeatAckSchema, DeploySchema, ErrorMessageSchema, HistoryRequestSchema]);
export type HubMessage = z.infer<typeof HubMessageSchema>;
export type Welcome = z.infer<typeof WelcomeSchema>;
export type Ack = z.infer<typeof AckSchema>;
export type HeartbeatAck = z.infer<typeof HeartbeatAckSchema>;
export type Deploy = z.infer<typeof DeploySchema>;
export type ErrorMessage = z.infer<typeof ErrorMessageSchema>;
export type HistoryRequest = z.infer<typeof HistoryRequestSchema>;

export type ParseResult<T> = { ok: true; message: T } | { ok: false; error: string };

function parseWith<T>(schema: z.ZodType<T>, data: string | Buffer): ParseResult<T> {
  let json: unknown;
  try {
    json = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, message: parsed.data };
  const first = parsed.error.issues[0];
  const where = first && first.path.length > 0 ? ` at ${first.path.join('.')}` : '';
  return { ok: false, error: `${first?.message ?? 'invalid message'}${where}` };
}

export const parseAgentMessage = (data: string | Buffer): ParseResult<AgentMessage> => parseWith(AgentMessageSchema, data);
export const parseHubMessage = (data: string | Buffer): ParseResult<HubMessage> => parseWith(HubMessageSchema, data);

/** A batch whose seqs are not strictly increasing inside [first, last] is a protocol error. */
export function batchSeqError(batch: Batch): string | null {
  if (batch.first > batch.last) return `first ${batch.first} is after last ${batch.last}`;
  let previous = batch.first - 1;
  for (const r of batch.records) {
    if (r.seq <= previous) return `seq ${r.seq} is not after ${previous}`;
    if (r.seq > batch.last) return `seq ${r.seq} is after last ${batch.last}`;
    previous = r.seq;
  }
  return null;
}

/** The highest version both sides speak, or null. */
export function chooseProtocol(offered: readonly number[]): number | null {
  let best: number | null = null;
  for (const v of offered) if ((PROTOCOL_VERSIONS as readonly number[]).includes(v) && (best === null || v > best)) best = v;
  return best;
}
