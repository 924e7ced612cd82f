import { createHash, randomBytes } from 'node:crypto';
import { amountOf, percentOf, type TrainingProgress } from './training-progress.js';

/** Where a hub training is. fetching-history covers all reading of data (an agent's history, answered episodes, a parent's sources). */
export type TrainingJobState = 'fetching-history' | 'training' | 'registering' | 'done' | 'failed';

export type TrainingJobKind = 'train' | 'retrain';

/** One step a running job reports: its state, the phase inside it, and a line for people. */
export interface TrainingJobStep {
  state: 'fetching-history' | 'training' | 'registering';
  phase: string;
  text: string;
  done?: number;
  total?: number;
  unit?: string;
}

export type TrainingJobReport = (step: TrainingJobStep) => void;

/** A failed job's error: what the synchronous request answers (code, message, HTTP status), and the trainer's own code when it was a refusal. */
export interface TrainingJobError {
  code: string;
  message: string;
  status: number;
  refusal?: string;
}

/** GET /api/training/:id */
export interface TrainingJobView {
  id: string;
  kind: TrainingJobKind;
  /** The model trained; for a retraining also the version retrained (name@version). */
  model: string;
  parent?: string;
  by: string;
  /** The hub replica running the job: the only one that knows it. */
  replica: string;
  state: TrainingJobState;
  progress: { phase: string; text: string; done?: number; total?: number; unit?: string; percent?: number };
  startedAt: string;
  finishedAt?: string;
  elapsedMs: number;
  /** state done: what the synchronous request answers. */
  result?: unknown;
  /** state failed. */
  error?: TrainingJobError;
}

export interface TrainingJobsOptions {
  /** hub.id: named in views and in the answer for a job this replica does not know. */
  replica: string;
  /** How long a finished job's outcome stays readable, ms. Default 1 h. */
  keepFinishedMs?: number;
  /** Most finished jobs kept; the oldest go first. Default 200. */
  maxFinished?: number;
  /** An error as the job's view shows it (the API's mapping of errors). */
  describeError: (err: unknown) => TrainingJobError;
  /** Called once per finished job (logging). */
  onFinished?: (view: TrainingJobView) => void;
  now?: () => number;
}

/** Why this replica does not know a job: it never had it (or forgot it), it was started before a restart, or another replica runs it. */
export type JobLookup = { found: true; job: TrainingJobView } | { found: false; why: 'unknown' | 'restarted' | 'other-replica'; message: string };

export interface StartedJob<T> {
  id: string;
  view(): TrainingJobView;
  /** Settles with the job: its result, or its original error (for synchronous requests). */
  finished: Promise<T>;
}

interface Job {
  view: Omit<TrainingJobView, 'elapsedMs' | 'startedAt' | 'finishedAt'>;
  startedAt: number;
  finishedAt?: number;
}

const DEFAULT_KEEP_FINISHED_MS = 3_600_000;
const DEFAULT_MAX_FINISHED = 200;

/**
 * The trainings running on this hub replica, and the outcome of recent ones,
 * in memory: a POST starts a job and answers at once, GET
 * /api/training/:id follows it. Nothing is persisted: a restart loses the
 * jobs it was running (their models are registered only when they reach
 * `registering`), and a replica knows only its own jobs. Job ids carry a
 * tag of the replica's id and this process's boot token, so an id from
 * before a restart, or one another replica runs, is answered with that
 * explanation instead of a bare "unknown".
 */
export class TrainingJobs {
  private readonly jobs = new Map<string, Job>();
  /** Ids are `<replica tag><boot>-<n>`: 8 hex digits of the replica id's hash, 8 random ones per process start, a counter. */
  private readonly replicaTag: string;
  private readonly boot = randomBytes(4).toString('hex');
  private readonly now: () => number;
  private readonly bootedAt: number;
  private seq = 0;

  constructor(private readonly options: TrainingJobsOptions) {
    this.now = options.now ?? Date.now;
    this.bootedAt = this.now();
    this.replicaTag = replicaTag(options.replica);
  }

  start<T>(what: { kind: TrainingJobKind; model: string; parent?: string; by: string; first: TrainingJobStep }, run: (report: TrainingJobReport) => Promise<T>): StartedJob<T> {
    this.prune();
    const id = `${this.replicaTag}${this.boot}-${++this.seq}`;
    const job: Job = {
      view: {
        id,
        kind: what.kind,
        model: what.model,
        ...(what.parent ? { parent: what.parent } : {}),
        by: what.by,
        replica: this.options.replica,
        state: what.first.state,
        progress: progressOf(what.first),
      },
      startedAt: this.now(),
    };
    this.jobs.set(id, job);
    const report: TrainingJobReport = (step) => {
      if (job.finishedAt !== undefined) return;
      job.view.state = step.state;
      job.view.progress = progressOf(step);
    };
    const finished = run(report);
    finished.then(
      (result) => this.finish(job, { state: 'done', progress: { phase: 'done', text: 'done' }, result }),
      (err: unknown) => {
        const error = this.options.describeError(err);
        this.finish(job, { state: 'failed', progress: { phase: 'failed', text: error.message }, error });
      },
    );
    return { id, view: () => this.viewOf(job), finished };
  }

  /** The job's view, or why this replica does not know it. */
  lookup(id: string): JobLookup {
    this.prune();
    const job = this.jobs.get(id);
    if (job) return { found: true, job: this.viewOf(job) };
    const [, replica, boot] = /^([0-9a-f]{8})([0-9a-f]{8})-\d+$/.exec(id) ?? [];
    const self = this.options.replica;
    const lost = "Training jobs live in the memory of the hub replica that runs them, and a restart loses those it was running: see whether the model's versions list the new version; if not, start the training again";
    if (replica !== undefined && replica !== this.replicaTag) {
      return { found: false, why: 'other-replica', message: `training job ${id} runs on another hub replica than ${self}: ask again (behind a load balancer the next request may reach it). ${lost}` };
    }
    if (boot !== undefined && boot !== this.boot) {
      return { found: false, why: 'restarted', message: `training job ${id} was started before hub replica ${self} restarted at ${new Date(this.bootedAt).toISOString()}, and is lost. ${lost}` };
    }
    const keptMin = Math.round((this.options.keepFinishedMs ?? DEFAULT_KEEP_FINISHED_MS) / 60_000);
    return { found: false, why: 'unknown', message: `no training job ${id} on hub replica ${self} (a finished job's outcome is kept for ${keptMin} min)` };
  }

  private finish(job: Job, outcome: Pick<TrainingJobView, 'state' | 'progress' | 'result' | 'error'>): void {
    job.finishedAt = this.now();
    job.view = { ...job.view, ...outcome };
    this.options.onFinished?.(this.viewOf(job));
  }

  private viewOf(job: Job): TrainingJobView {
    const { result, error, ...rest } = job.view;
    return {
      ...rest,
      startedAt: new Date(job.startedAt).toISOString(),
      ...(job.finishedAt === undefined ? {} : { finishedAt: new Date(job.finishedAt).toISOString() }),
      elapsedMs: (job.finishedAt ?? this.now()) - job.startedAt,
      ...(result === undefined ? {} : { result }),
      ...(error === undefined ? {} : { error }),
    };
  }

  /** Finished jobs older than keepFinishedMs, and beyond maxFinished the oldest, are forgotten; running ones never. */
  private prune(): void {
    const keepMs = this.options.keepFinishedMs ?? DEFAULT_KEEP_FINISHED_MS;
    const finished = [...this.jobs].filter(([, job]) => job.finishedAt !== undefined).sort((a, b) => a[1].finishedAt! - b[1].finishedAt!);
    const excess = finished.length - (this.options.maxFinished ?? DEFAULT_MAX_FINISHED);
    finished.forEach(([id, job], i) => {
      if (i < excess || this.now() - job.finishedAt! > keepMs) this.jobs.delete(id);
    });
  }
}

/** What each phase of the trainer does, in words for the progress line. */
const PHASE_WORDS: Record<Exclude<TrainingProgress['phase'], 'queued'>, string> = {
  read: 'reading the data',
  windows: 'cutting windows',
  calibrate: 'calibrating the thresholds on held-out windows',
  fit: 'fitting PCA with T² and Q',
  export: 'exporting to ONNX',
  compare: 'scoring parent and candidate on the answered stretches',
};

/** A training worker's progress as a job step: "cutting windows, 4,096 of 26,928 samples (15 %)". */
export function trainingStep(p: TrainingProgress): TrainingJobStep {
  const text = p.phase === 'queued' ? `waiting for ${p.done} other ${p.done === 1 ? 'training' : 'trainings'} on this hub replica to finish` : `${PHASE_WORDS[p.phase]}, ${amountOf(p)}`;
  return { state: 'training', phase: p.phase, text, done: p.done, total: p.total, unit: p.unit };
}

function progressOf(step: TrainingJobStep): TrainingJobView['progress'] {
  const { state: _state, ...progress } = step;
  const percent = step.done !== undefined && step.total !== undefined ? percentOf({ done: step.done, total: step.total }) : undefined;
  return { ...progress, ...(percent === undefined ? {} : { percent }) };
}

/** A job id's tag for a replica: replicas sharing a database have different ids, so their jobs' ids differ. */
function replicaTag(replica: string): string {
  return createHash('sha256').update(replica).digest('hex').slice(0, 8);
}
