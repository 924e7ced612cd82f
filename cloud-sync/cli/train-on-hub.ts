import { callHubApi, HubCallError, type HubConnection } from './hub-api-client.js';

type Out = (line: string) => void;

/** A training job as GET /api/training/:id answers it (cloud-sync/training/training-jobs.ts TrainingJobView, the parts used). */
interface TrainingJobAnswer {
  id: string;
  state: 'fetching-history' | 'training' | 'registering' | 'done' | 'failed';
  progress: { phase: string; text: string };
  elapsedMs: number;
  result?: unknown;
  error?: { code: string; message: string; status: number };
}

export interface FollowOptions {
  /** How often the job is asked, ms. Default 1 s. */
  pollMs?: number;
  /** A progress line at most this often while the state stays the same, ms. Default 3 s. */
  printEveryMs?: number;
  /** How long the job's replica may not answer (unreachable, or the load balancer sends the requests to other replicas) before giving up, ms. Default 30 s. */
  unreachableMs?: number;
}

/**
 * Starts a training on the hub as a job (`?async=true`) and follows it
 * (`GET /api/training/:id`) to its end: a progress line to `progress` when
 * the state changes and at most every few seconds otherwise, then resolves
 * with the job's result, the body the waiting request would have answered.
 * A failed job rejects with its error (code, message, status); a job the
 * replica no longer knows (restarted) with the hub's 404 saying so. Jobs
 * live on the replica that runs them: behind a load balancer, another
 * replica answers 421 and the next poll may reach the right one.
 */
export async function trainOnHub(conn: HubConnection, path: string, body: unknown, progress: Out, options: FollowOptions = {}): Promise<unknown> {
  const pollMs = options.pollMs ?? 1000;
  const printEveryMs = options.printEveryMs ?? 3000;
  const unreachableMs = options.unreachableMs ?? 30_000;
  let job = (await callHubApi(conn, 'POST', `${path}?async=true`, { json: body })) as TrainingJobAnswer;
  progress(`  training job ${job.id} on the hub (follow it with GET /api/training/${job.id})`);
  let lastState = '';
  let lastPrinted = -Infinity;
  let lastAnswer = Date.now();
  for (;;) {
    if (job.state === 'done') return job.result;
    if (job.state === 'failed') {
      const error = job.error ?? { code: 'VIGIL_HUB_INTERNAL', message: 'the training failed', status: 500 };
      throw new HubCallError(error.code, error.message, error.status);
    }
    if (job.state !== lastState || Date.now() - lastPrinted >= printEveryMs) {
      progress(`  … ${job.state.replace('-', ' ')}: ${job.progress.text} (${Math.round(job.elapsedMs / 1000)} s)`);
      lastState = job.state;
      lastPrinted = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    try {
      job = (await callHubApi(conn, 'GET', `/api/training/${encodeURIComponent(job.id)}`)) as TrainingJobAnswer;
      lastAnswer = Date.now();
    } catch (err) {
      // A moment without the hub (the network, a restart: answered next with a 404 saying the job is lost) or on other replicas (421) is waited out.
      const passing = err instanceof HubCallError && (err.code === 'VIGIL_HUB_UNREACHABLE' || err.status === 421);
      if (!passing || Date.now() - lastAnswer > unreachableMs) throw err;
    }
  }
}
