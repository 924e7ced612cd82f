import { parentPort, workerData } from 'node:worker_threads';
import { runTrainingJob, serializeError, type SerializedError, type TrainingJob, type TrainingJobResult } from './training-job.js';

/**
 * The training worker thread: runs one TrainingJob (given as workerData),
 * posts one reply and ends. Training holds a core for seconds to minutes;
 * here it cannot stall the hub's event loop (API requests, sync, the systemd
 * watchdog ping).
 */

export type TrainingReply = { ok: true; result: TrainingJobResult } | { ok: false; error: SerializedError };

const port = parentPort;
if (!port) throw new Error('training-worker.ts runs as a worker thread (see training-client.ts)');

runTrainingJob(workerData as TrainingJob).then(
  (result) => port.postMessage({ ok: true, result } satisfies TrainingReply),
  (err: unknown) => {
    const error = serializeError(err);
    try {
      port.postMessage({ ok: false, error } satisfies TrainingReply);
    } catch {
      // Details that cannot be cloned are dropped; the code and message still go.
      port.postMessage({ ok: false, error: { ...(error.code ? { code: error.code } : {}), message: error.message } } satisfies TrainingReply);
    }
  },
);
