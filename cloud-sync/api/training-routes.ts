import { z } from 'zod';
import { VigilError } from '../../shared/errors.js';
import { MAX_HISTORY_TAGS } from '../../shared/sync-protocol.js';
import type { HistoryRequests } from '../gateway/history-requests.js';
import type { HubRegistry } from '../registry/hub-registry.js';
import type { HubStorage } from '../storage/hub-storage.js';
import { fetchedSegment, MAX_TRAINING_SAMPLES_PER_TAG } from '../training/agent-history-data.js';
import { retrainFromAnswers } from '../training/hub-training.js';
import { trainInWorker } from '../training/training-client.js';
import type { ApiRoute } from './api-route.js';
import { validateInput } from './validate-input.js';

export interface TrainingRoutesDeps {
  storage: HubStorage;
  registry: HubRegistry;
  /** Fetches raw history from agents (through the replica each is connected to). */
  history: Pick<HistoryRequests, 'fetch'>;
}

/** A time as ms since the Unix epoch or an ISO 8601 text. */
const TimeSchema = z.union([z.number().finite(), z.string().min(1)]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) ctx.addIssue({ code: 'custom', message: `not a time: ${String(value)} (ms since the epoch or ISO 8601)` });
  return ms;
});

const TrainFromAgentBodySchema = z
  .strictObject({
    agent: z.string().min(1).describe('The agent (gateway) whose raw history to learn from; it must be online.'),
    tags: z.array(z.string().min(1)).min(1).max(MAX_HISTORY_TAGS).refine((t) => new Set(t).size === t.length, 'a tag is listed twice'),
    from: TimeSchema.describe('Start of the period of normal operation.'),
    to: TimeSchema.describe('End of the period of normal operation.'),
    name: z.string().min(1).describe('The model name.'),
    version: z.string().min(1).optional().describe('Default 1.0.0 for a new model, else the next free minor version.'),
    samplePeriodMs: z.number().positive(),
    windowLength: z.number().int().positive().default(30),
    hop: z.number().int().positive().default(1),
    description: z.string().max(2000).optional(),
    missingData: z
      .strictObject({
        forwardFillMaxAgeMs: z.number().int().nonnegative().optional(),
        maxFilledShare: z.number().min(0).max(1).optional(),
        maxBadShare: z.number().min(0).max(1).optional(),
      })
      .optional()
      .describe("The model's missing-data policy (manifest defaults otherwise): tags that update slower than the sample period need a larger maxFilledShare."),
  })
  .refine((b) => b.from < b.to, { message: 'from must be before to', path: ['to'] });

const RetrainBodySchema = z.strictObject({
  version: z.string().min(1).optional().describe("The new version; default the parent's next free patch version."),
});

/**
 * Training on the hub. `POST /api/models/train` learns a new model from an
 * agent's raw history (fetched over its sync connection: the agent must be
 * connected to this replica, else 409) and registers it; no data in the
 * period, or too little to learn from → 400 (refusal VIGIL_TRAINING_DATA_INVALID).
 * `…/retrain` retrains a registered version from the episodes answered as
 * normal operation (their raw history from their agents, the parent's data
 * read again; see hub-training.ts). Both are admin (they register a new
 * version). Training runs in a worker thread: the hub keeps answering (and
 * pinging the systemd watchdog) meanwhile. The retrain response is the new
 * version record, what it learned from and how its data was read, and the
 * alarm windows of parent and candidate on the answered stretches.
 */
export function trainingRoutes(deps: TrainingRoutesDeps): ApiRoute[] {
  return [
    {
      // Learn normal behaviour from an agent's raw history: fetch, train, register (signed). Deploying is a separate step.
      method: 'POST',
      path: '/api/models/train',
      access: 'admin',
      handle: async (req) => {
        const body = validateInput(TrainFromAgentBodySchema, await req.json(), 'body');
        const by = req.caller.kind === 'agent' ? `agent:${req.caller.id}` : req.caller.name;
        try {
          const fetched = await deps.history.fetch(body.agent, { tags: body.tags, from: body.from, to: body.to, maxSamples: MAX_TRAINING_SAMPLES_PER_TAG });
          const version = body.version ?? (await nextFreeMinor(deps.storage, body.name));
          const samples = Object.fromEntries(fetched.map((s) => [s.tag, s.ts.length]));
          const trained = await trainInWorker({
            request: {
              name: body.name,
              version,
              description: body.description ?? `normal behaviour of ${body.tags.length} tag(s) on ${body.agent}, ${new Date(body.from).toISOString()} – ${new Date(body.to).toISOString()}`,
              tags: body.tags,
              samplePeriodMs: body.samplePeriodMs,
              windowLength: body.windowLength,
              hop: body.hop,
              normal: [fetchedSegment({ kind: 'agent-history', name: body.agent }, fetched)],
              ...(body.missingData ? { missingData: body.missingData } : {}),
            },
          });
          const record = await deps.registry.upload(trained.packageBytes, by);
          return { status: 201, json: { record, thresholds: trained.manifest.thresholds, calibration: trained.calibration, windows: trained.windows, samples } };
        } catch (err) {
          throw asBadRequest(err);
        }
      },
    },
    {
      method: 'POST',
      path: '/api/models/:name/versions/:version/retrain',
      access: 'admin',
      handle: async (req) => {
        const body = (await req.body()).length === 0 ? {} : validateInput(RetrainBodySchema, await req.json(), 'body');
        const by = req.caller.kind === 'agent' ? `agent:${req.caller.id}` : req.caller.name;
        try {
          const result = await retrainFromAnswers(deps, { model: req.params.name ?? '', version: req.params.version ?? '', by, ...(body.version ? { newVersion: body.version } : {}) });
          return { status: 201, json: result };
        } catch (err) {
          throw asBadRequest(err);
        }
      },
    },
  ];
}

/** The trainer's refusals (not enough data, a bad version) are the caller's to fix: 400 with the trainer's message, not 500. */
const CALLER_FIXABLE = new Set(['VIGIL_TRAINING_DATA_INVALID', 'VIGIL_MODEL_PACKAGE_INVALID', 'VIGIL_CONFIG_INVALID']);

function asBadRequest(err: unknown): unknown {
  if (!(err instanceof VigilError) || !CALLER_FIXABLE.has(err.code)) return err;
  return new VigilError('VIGIL_API_BAD_REQUEST', err.message, { cause: err, details: { refusal: err.code } });
}

/** 1.0.0 for a new model; else the next minor version after the highest registered one not taken (1.2.3 → 1.3.0). */
async function nextFreeMinor(storage: HubStorage, name: string): Promise<string> {
  const versions = (await storage.listModelVersions(name)).map((r) => r.version);
  const numbered = versions.map((v) => /^(\d+)\.(\d+)\.(\d+)/.exec(v)).filter((m): m is RegExpExecArray => m !== null).map((m) => [Number(m[1]), Number(m[2])] as const);
  if (numbered.length === 0) return '1.0.0';
  const [major, minor] = numbered.reduce((a, b) => (b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]) ? b : a));
  const taken = new Set(versions);
  for (let m = minor + 1; ; m++) if (!taken.has(`${major}.${m}.0`)) return `${major}.${m}.0`;
}
