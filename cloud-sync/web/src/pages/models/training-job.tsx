import { api } from '../../api/api-client.js';
import { ApiError } from '../../api/api-error.js';

/** A training job as GET /api/training/:id answers it (cloud-sync/training/training-jobs.ts TrainingJobView, the parts shown). */
export interface TrainingJobView {
  id: string;
  state: 'fetching-history' | 'training' | 'registering' | 'done' | 'failed';
  progress: { phase: string; text: string; percent?: number };
  elapsedMs: number;
  result?: unknown;
  error?: { code: string; message: string; status: number };
}

/** How often a running job is asked. */
const POLL_MS = 1000;
/** How long the job's replica may not answer (network trouble, or the load balancer sends the requests to other replicas: 421) before the page gives up following. */
const UNREACHABLE_MS = 30_000;

/**
 * Starts a training on the hub as a job (`POST path?async=true`, 202) and
 * follows it (`GET /api/training/:id`) every second, telling `onProgress`,
 * until it is done (resolves with its result: the body the waiting request
 * answers) or failed (rejects with its error as an ApiError). Jobs live on
 * the replica that runs them: another one answers 421, and the next poll
 * may reach the right one. `wanted` false (the form went away) stops
 * following.
 */
export async function trainOnHub<T>(path: string, body: unknown, onProgress: (job: TrainingJobView) => void, wanted: () => boolean): Promise<T> {
  let job = await api.post<TrainingJobView>(`${path}?async=true`, body);
  let lastAnswer = Date.now();
  for (;;) {
    if (job.state === 'done') return job.result as T;
    if (job.state === 'failed') throw new ApiError(job.error?.status ?? 500, job.error?.code ?? 'VIGIL_HUB_INTERNAL', job.error?.message ?? 'the training failed');
    onProgress(job);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (!wanted()) throw new ApiError(0, 'VIGIL_WEB_UNEXPECTED', `stopped following training job ${job.id}`);
    try {
      job = await api.get<TrainingJobView>(`/api/training/${encodeURIComponent(job.id)}`);
      lastAnswer = Date.now();
    } catch (err) {
      if (!(err instanceof ApiError) || (err.status !== 0 && err.status !== 421) || Date.now() - lastAnswer > UNREACHABLE_MS) throw err;
    }
  }
}

const STATE_LABEL: Record<TrainingJobView['state'], string> = {
  'fetching-history': 'Fetching history',
  training: 'Training',
  registering: 'Registering',
  done: 'Done',
  failed: 'Failed',
};

/** Where a running training is: its state, the hub's progress line, a bar when the phase counts towards a total, and the time so far. */
export function TrainingProgress({ job, testId }: { job: TrainingJobView; testId: string }) {
  return (
    <div class="notice" role="status" data-testid={testId}>
      <strong>{STATE_LABEL[job.state]}</strong>: {job.progress.text} <span class="muted small">({Math.round(job.elapsedMs / 1000)} s)</span>
      {job.progress.percent !== undefined ? (
        <>
          {' '}
          <progress max={100} value={job.progress.percent} />
        </>
      ) : null}
    </div>
  );
}
