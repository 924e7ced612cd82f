import { z } from 'zod';
import { VigilError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { MAX_HISTORY_TAGS } from '../../shared/sync-protocol.js';
import type { HistoryRequests } from '../gateway/history-requests.js';
import type { HubRegistry } from '../registry/hub-registry.js';
import { ApiError, errorResponse } from '../server/api-error.js';
import type { HubStorage } from '../storage/hub-storage.js';
import { fetchedSegment, MAX_TRAINING_SAMPLES_PER_TAG } from '../training/agent-history-data.js';
import { retrainFromAnswers } from '../training/hub-training.js';
import { TrainingMethodSchema } from '../training/train-model.js';
import { trainInWorker } from '../training/training-client.js';
import { TrainingJobs, trainingStep, type StartedJob, type TrainingJobError, type TrainingJobReport } from '../training/training-jobs.js';
import type { ApiRequest, ApiResponse, ApiRoute } from './api-route.js';
import { queryObject } from './query-params.js';
import { validateInput } from './validate-input.js';

export interface TrainingRoutesDeps {
  storage: HubStorage;
  registry: HubRegistry;
  /** Fetches raw history from agents (through the replica each is connected to). */
  history: Pick<HistoryRequests, 'fetch'>;
  /** hub.id: training jobs live on the replica that runs them. */
  replica: string;
  log?: Logger;
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
    method: TrainingMethodSchema.partial().optional().describe("The training method's parameters (features, margin, quantile, varianceShare, …); the defaults otherwise (DEFAULT_TRAINING_METHOD)."),
  })
  .refine((b) => b.from < b.to, { message: 'from must be before to', path: ['to'] });

type TrainFromAgentBody = z.infer<typeof TrainFromAgentBodySchema>;

const RetrainBodySchema = z.strictObject({
  version: z.string().min(1).optional().describe("The new version; default the parent's next free patch version."),
});

const TrainingQuerySchema = z.strictObject({
  async: z.enum(['true', 'false']).optional().describe('true: answer 202 with the training job at once (follow it with GET /api/training/:id); default false: answer when the training is done.'),
});

/**
 * Training on the hub. `POST /api/models/train` learns a new model from an
 * agent's raw history (fetched over its sync connection, through the replica
 * it is connected to: offline → 409) and registers it; no data in the
 * period, or too little to learn from → 400 (refusal VIGIL_TRAINING_DATA_INVALID).
 * `…/retrain` retrains a registered version from the episodes answered as
 * normal operation (their raw history from their agents, the parent's data
 * read again; see hub-training.ts). Both are admin (they register a new
 * version) and run as training jobs (training-jobs.ts): with `?async=true`
 * the answer is 202 with the job at once and `GET /api/training/:id` follows
 * its state and progress to its result or error; without it the request
 * waits and answers as the job ends (201 with the result, or the error).
 * Training runs in a worker thread: the hub keeps answering (and pinging the
 * systemd watchdog) meanwhile. The retrain result is the new version record,
 * what it learned from and how its data was read, and the alarm windows of
 * parent and candidate on the answered stretches.
 */
export function trainingRoutes(deps: TrainingRoutesDeps): ApiRoute[] {
  const jobs = new TrainingJobs({
    replica: deps.replica,
    describeError: jobError,
    onFinished: (job) => {
      const fields = { job: job.id, kind: job.kind, model: job.model, elapsedMs: job.elapsedMs, ...(job.error ? { code: job.error.code, error: job.error.message } : {}) };
      if ((job.error?.status ?? 0) >= 500) deps.log?.error(fields, 'training job failed');
      else deps.log?.info(fields, `training job ${job.state}`);
    },
  });
  return [
    {
      // Learn normal behaviour from an agent's raw history: fetch, train, register (signed). Deploying is a separate step.
      method: 'POST',
      path: '/api/models/train',
      access: 'admin',
      handle: async (req) => {
        const wait = waitFor(req);
        const body = validateInput(TrainFromAgentBodySchema, await req.json(), 'body');
        const by = callerName(req);
        await refuseTakenVersion(deps.storage, body.name, body.version);
        const first = { state: 'fetching-history', phase: 'history', text: `the history of ${body.tags.length} ${body.tags.length === 1 ? 'tag' : 'tags'} from ${body.agent}` } as const;
        const job = jobs.start({ kind: 'train', model: body.name, by, first }, (report) => trainFromAgent(deps, body, by, report));
        return answer(job, wait);
      },
    },
    {
      method: 'POST',
      path: '/api/models/:name/versions/:version/retrain',
      access: 'admin',
      handle: async (req) => {
        const wait = waitFor(req);
        const body = (await req.body()).length === 0 ? {} : validateInput(RetrainBodySchema, await req.json(), 'body');
        const by = callerName(req);
        const model = req.params.name ?? '';
        const version = req.params.version ?? '';
        // A parent that does not exist, or a new version that does, is refused at once, not as a failed job.
        if (!(await deps.storage.getModelVersion(model, version))) throw new VigilError('VIGIL_API_NOT_FOUND', `model ${model} version ${version} is not in the registry`, { details: { model, version } });
        await refuseTakenVersion(deps.storage, model, body.version);
        const first = { state: 'fetching-history', phase: 'answers', text: `the answered episodes of ${model}@${version}` } as const;
        const job = jobs.start({ kind: 'retrain', model, parent: `${model}@${version}`, by, first }, (report) =>
          retrainFromAnswers(deps, { model, version, by, ...(body.version ? { newVersion: body.version } : {}) }, report),
        );
        return answer(job, wait);
      },
    },
    {
      // A training job's state, progress and outcome; jobs live in the memory of the replica that runs them (404 unknown or lost in a restart, 421 run by another replica).
      method: 'GET',
      path: '/api/training/:id',
      access: 'admin',
      handle: async (req) => {
        const found = jobs.lookup(req.params.id ?? '');
        if (found.found) return { status: 200, json: found.job };
        // 421 Misdirected Request: another replica runs it, and the next request may reach that one.
        if (found.why === 'other-replica') throw new ApiError(421, 'VIGIL_API_NOT_FOUND', found.message);
        throw new VigilError('VIGIL_API_NOT_FOUND', found.message, { details: { id: req.params.id, why: found.why } });
      },
    },
  ];
}

/** Fetch the agent's history, train in the worker thread, register: what POST /api/models/train answers. */
async function trainFromAgent(deps: TrainingRoutesDeps, body: TrainFromAgentBody, by: string, report: TrainingJobReport) {
  const fetched = await deps.history.fetch(body.agent, { tags: body.tags, from: body.from, to: body.to, maxSamples: MAX_TRAINING_SAMPLES_PER_TAG });
  const version = body.version ?? (await nextFreeMinor(deps.storage, body.name));
  const samples = Object.fromEntries(fetched.map((s) => [s.tag, s.ts.length]));
  const total = fetched.reduce((n, s) => n + s.ts.length, 0);
  report({ state: 'training', phase: 'start', text: `${body.name}@${version} on ${total.toLocaleString('en')} samples`, done: 0, total, unit: 'samples' });
  const trained = await trainInWorker(
    {
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
        ...(body.method ? { method: body.method } : {}),
      },
    },
    (p) => report(trainingStep(p)),
  );
  report({ state: 'registering', phase: 'registering', text: `signing and storing ${body.name}@${version}` });
  const record = await deps.registry.upload(trained.packageBytes, by);
  return { record, thresholds: trained.manifest.thresholds, calibration: trained.calibration, windows: trained.windows, samples };
}

/** 202 with the job at once, or (the default) 201 with its result when it is done, or its error as the API answers errors. */
async function answer(job: StartedJob<unknown>, wait: boolean): Promise<ApiResponse> {
  if (!wait) return { status: 202, json: job.view(), headers: { location: `/api/training/${job.id}` } };
  try {
    return { status: 201, json: await job.finished };
  } catch (err) {
    throw asBadRequest(err);
  }
}

/** A version asked for that is registered already: 409 before training (the registry checks again when it stores the new one). */
async function refuseTakenVersion(storage: HubStorage, name: string, version: string | undefined): Promise<void> {
  if (version === undefined || !(await storage.getModelVersion(name, version))) return;
  throw new VigilError('VIGIL_API_CONFLICT', `model ${name} version ${version} exists; versions are immutable — give another version, or none for the next free one`, { details: { model: name, version } });
}

function waitFor(req: ApiRequest): boolean {
  return validateInput(TrainingQuerySchema, queryObject(req.query), 'query').async !== 'true';
}

function callerName(req: ApiRequest): string {
  return req.caller.kind === 'agent' ? `agent:${req.caller.id}` : req.caller.name;
}

/** A failed job's error exactly as the waiting request answers it, with the trainer's own code for a refusal. */
function jobError(err: unknown): TrainingJobError {
  const { status, body } = errorResponse(asBadRequest(err));
  const refusal = err instanceof VigilError && err.code !== body.error.code ? { refusal: err.code } : {};
  return { code: body.error.code, message: body.error.message, status, ...refusal };
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
