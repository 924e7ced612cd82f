/** Point counts of one comparison of predictions with labels. */
export interface Confusion {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

export function emptyConfusion(): Confusion {
  return { tp: 0, fp: 0, fn: 0, tn: 0 };
}

export function addConfusion(into: Confusion, c: Confusion): void {
  into.tp += c.tp;
  into.fp += c.fp;
  into.fn += c.fn;
  into.tn += c.tn;
}

/** Counts over the points from `from` on (the scored ones). */
export function confusion(labels: ArrayLike<number>, predicted: ArrayLike<boolean>, from: number): Confusion {
  const c = emptyConfusion();
  for (let i = from; i < labels.length; i++) {
    const anomalous = labels[i] === 1;
    if (predicted[i]) anomalous ? c.tp++ : c.fp++;
    else anomalous ? c.fn++ : c.tn++;
  }
  return c;
}

/**
 * SKAB's figures: F1 of the anomalous class, false alarm rate (normal points
 * predicted anomalous, % of normal points) and missed alarm rate (anomalous
 * points not predicted, % of anomalous points).
 */
export function detectionFigures(c: Confusion): { f1: number; farPct: number; marPct: number } {
  const f1 = c.tp === 0 ? 0 : (2 * c.tp) / (2 * c.tp + c.fp + c.fn);
  const farPct = c.fp + c.tn === 0 ? 0 : (100 * c.fp) / (c.fp + c.tn);
  const marPct = c.fn + c.tp === 0 ? 0 : (100 * c.fn) / (c.fn + c.tp);
  return { f1, farPct, marPct };
}
