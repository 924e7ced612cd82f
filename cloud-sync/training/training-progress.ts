/** Where a training run is: `done` of `total` units of its phase. */
export interface TrainingProgress {
  phase: 'read' | 'windows' | 'fit' | 'calibrate';
  done: number;
  total: number;
  /** What is counted: rows, samples, windows. */
  unit: string;
}

/**
 * A progress listener that prints a line at most every `intervalMs` (and the
 * first time a phase starts), so a long run shows it is moving without
 * flooding a terminal or a log.
 */
export function throttledProgress(out: (line: string) => void, intervalMs = 3000, now: () => number = Date.now): (p: TrainingProgress) => void {
  let lastAt = -Infinity;
  let lastPhase = '';
  return (p) => {
    const t = now();
    if (p.phase === lastPhase && t - lastAt < intervalMs) return;
    lastAt = t;
    lastPhase = p.phase;
    out(`  … ${p.phase}: ${amount(p)}`);
  };
}

/** "4,096 of 26,928 samples (15 %)" while counting, "3,570 windows" when a phase only says its size. */
function amount(p: TrainingProgress): string {
  const n = (v: number) => v.toLocaleString('en');
  if (p.total <= 0) return `${n(p.done)} ${p.unit}`;
  if (p.done <= 0) return `${n(p.total)} ${p.unit}`;
  return `${n(p.done)} of ${n(p.total)} ${p.unit} (${Math.min(100, Math.round((100 * p.done) / p.total))} %)`;
}
