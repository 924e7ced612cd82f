import { parentPort, workerData } from 'node:worker_threads';
import { runTrainingJob, serializeError, type SerializedError, type TrainingJob, type TrainingJobResult } from './training-job.js';
import { throttleByPhase, type TrainingProgress } from './training-progress.js';

/**
 * The training worker thread: runs one TrainingJob (given as workerData),
 * posts its progress (each phase's start, then at most every
 * PROGRESS_INTERVAL_MS), then one reply, and ends. Training holds a core for
 * seconds to minutes; here it cannot stall the hub's event loop (API
 * requests, sync, the systemd watchdog ping).
 */

export type TrainingReply = { ok: true; result: TrainingJobResult } | { ok: false; error: SerializedError };

/** What the thread posts: progress events, then the reply. */
export type TrainingWorkerMessage = { kind: 'progress'; progress: TrainingProgress } | ({ kind: 'reply' } & TrainingReply);

/** Progress is read by people polling every second or so: more often would only load the message port. */
const PROGRESS_INTERVAL_MS = 250;

const port = parentPort;
if (!port) throw new Error('training-worker.ts runs as a worker thread (see training-client.ts)');

const progress = throttleByPhase((p: TrainingProgress) => port.postMessage({ kind: 'progress', progress: p } satisfies TrainingWorkerMessage), PROGRESS_INTERVAL_MS);

runTrainingJob(workerData as TrainingJob, progress).then(
  (result) => port.postMessage({ kind: 'reply', ok: true, result } satisfies TrainingWorkerMessage),
  (err: unknown) => {
    const error = serializeError(err);
    try {
      port.postMessage({ kind: 'reply', ok: false, error } satisfies TrainingWorkerMessage);
    } catch {
      // Details that cannot be cloned are dropped; the code and message still go.
      port.postMessage({ kind: 'reply', ok: false, error: { ...(error.code ? { code: error.code } : {}), message: error.message } } satisfies TrainingWorkerMessage);
    }
  },
);
