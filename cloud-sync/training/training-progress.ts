/** Where a training run is: `done` of `total` units of its phase. */
export interface TrainingProgress {
  /** queued: waiting for the trainings ahead of it in the hub's worker (done = how many); export: the ONNX graph; compare: parent and candidate scored (retraining). */
  phase: 'queued' | 'read' | 'windows' | 'fit' | 'calibrate' | 'export' | 'compare';
  done: number;
  total: number;
  /** What is counted: rows, samples, windows. */
  unit: string;
}

/**
 * A listener that passes an event on the first time its phase starts, and
 * otherwise at most every `intervalMs`: a long run shows it is moving
 * without flooding a terminal, a log or a thread's message port.
 */
export function throttleByPhase<P extends { phase: string }>(listener: (p: P) => void, intervalMs: number, now: () => number = Date.now): (p: P) => void {
  let lastAt = -Infinity;
  let lastPhase = '';
  return (p) => {
    const t = now();
    if (p.phase === lastPhase && t - lastAt < intervalMs) return;
    lastAt = t;
    lastPhase = p.phase;
    listener(p);
  };
}

/** A progress listener that prints a line at most every `intervalMs` (and the first time a phase starts). */
export function throttledProgress(out: (line: string) => void, intervalMs = 3000, now: () => number = Date.now): (p: TrainingProgress) => void {
  return throttleByPhase((p: TrainingProgress) => out(`  … ${describeProgress(p)}`), intervalMs, now);
}

/** "windows: 4,096 of 26,928 samples (15 %)" while counting, "fit: 3,570 windows" when a phase only says its size. */
export function describeProgress(p: TrainingProgress): string {
  return `${p.phase}: ${amountOf(p)}`;
}

/** "4,096 of 26,928 samples (15 %)" while counting, "3,570 windows" when a phase only says its size. */
export function amountOf(p: { done: number; total: number; unit: string }): string {
  const n = (v: number) => v.toLocaleString('en');
  if (p.total <= 0) return `${n(p.done)} ${p.unit}`;
  if (p.done <= 0) return `${n(p.total)} ${p.unit}`;
  return `${n(p.done)} of ${n(p.total)} ${p.unit} (${percentOf(p)} %)`;
}

/** Share done in whole percent, or undefined when the phase does not count towards a total. */
export function percentOf(p: { done: number; total: number }): number | undefined {
  return p.total > 0 ? Math.min(100, Math.round((100 * p.done) / p.total)) : undefined;
}
