import { VigilError } from '../../shared/errors.js';
import { startModuleWorker } from '../../shared/module-worker.js';
import type { TrainingSegment } from './training-data.js';
import { deserializeError, type TrainingJob, type TrainingJobResult } from './training-job.js';
import type { TrainingProgress } from './training-progress.js';
import type { TrainingWorkerMessage } from './training-worker.js';

/** Jobs run one after another: each holds its data in memory and keeps a core busy, and the hub has other work. */
let queue: Promise<unknown> = Promise.resolve();
/** Jobs started or waiting in this process. */
let inQueue = 0;

/**
 * Runs a TrainingJob in its own worker thread (training-worker.ts), so the
 * hub's event loop keeps answering while it trains; one job at a time per
 * process, later ones wait (`onProgress` hears `queued` with how many are
 * ahead, then the thread's progress). The series' buffers are moved to the
 * thread, not copied: every typed array that owns its whole buffer is empty
 * (detached) here afterwards. Refusals keep their VIGIL_ code, message and
 * details; a thread that dies rejects with VIGIL_HUB_INTERNAL.
 */
export function trainInWorker(job: TrainingJob, onProgress?: (p: TrainingProgress) => void): Promise<TrainingJobResult> {
  if (inQueue > 0) onProgress?.({ phase: 'queued', done: inQueue, total: 0, unit: inQueue === 1 ? 'training ahead' : 'trainings ahead' });
  inQueue++;
  const run = queue.then(() => runInThread(job, onProgress)).finally(() => inQueue--);
  queue = run.catch(() => undefined);
  return run;
}

function runInThread(job: TrainingJob, onProgress: ((p: TrainingProgress) => void) | undefined): Promise<TrainingJobResult> {
  return new Promise((resolve, reject) => {
    const worker = startModuleWorker(new URL('./training-worker.js', import.meta.url), { workerData: job, transferList: ownedBuffers(job) });
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      outcome();
    };
    worker.on('message', (message: TrainingWorkerMessage) => {
      if (message.kind === 'progress') {
        if (!settled) onProgress?.(message.progress);
        return;
      }
      settle(() => (message.ok ? resolve(message.result) : reject(deserializeError(message.error))));
    });
    worker.once('error', (err: Error) => settle(() => reject(new VigilError('VIGIL_HUB_INTERNAL', `the training worker thread failed: ${err.message}`, { cause: err }))));
    worker.once('exit', (code: number) => settle(() => reject(new VigilError('VIGIL_HUB_INTERNAL', `the training worker thread exited (code ${code}) before it finished`))));
  });
}

/** The buffers of the job's series that no other array can share (each array owns its whole buffer), each once. */
function ownedBuffers(job: TrainingJob): ArrayBuffer[] {
  const segments: TrainingSegment[] = [...job.request.normal, ...(job.request.extraNormal ?? []), ...(job.compare?.segments ?? [])];
  const buffers = new Set<ArrayBuffer>();
  for (const segment of segments) {
    for (const s of segment.series) {
      for (const array of [s.ts, s.values, s.bad]) {
        if (array && array.buffer instanceof ArrayBuffer && array.byteOffset === 0 && array.byteLength === array.buffer.byteLength) buffers.add(array.buffer);
      }
    }
  }
  return [...buffers];
}
