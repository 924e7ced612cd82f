import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/** How the PCA model is fitted. */
export interface PcaT2QOptions {
  /** Principal components kept: the fewest that explain at least this share of the variance (at least 1, at most features − 1). */
  varianceShare: number;
  /** Weight of Hotelling's T² in the score; the residual Q gets 1 − t2Weight. */
  t2Weight: number;
  /** Least standard deviation of a feature, in robust-scaled units: a feature that barely moved in training must not turn noise into alarms. */
  featureSdFloor: number;
}

/**
 * A fitted PCA model of window features, as the score needs it. With z the
 * standardised features, P the kept loadings and Λ their variances:
 *
 *   T² = z P Λ⁻¹ Pᵀ zᵀ          (distance inside the normal subspace)
 *   Q  = |z (I − P Pᵀ)|²         (squared residual outside it)
 *   score = w·T²/τT + (1 − w)·Q/τQ
 *
 * τT and τQ are the mean T² and Q over the fitted windows, so the score of a
 * typical normal window is about 1 whatever the number of tags. Both forms
 * are stored pre-weighted (`t2Form`, `residualMap`) so that the contribution
 * of feature j is z_j·(z·t2Form)_j + (z·residualMap)_j², and the score is the
 * sum of the contributions.
 */
export interface PcaT2QModel {
  featureMean: number[];
  featureScale: number[];
  /** F × F: (w / τT) · P Λ⁻¹ Pᵀ. */
  t2Form: number[][];
  /** F × F: sqrt((1 − w) / τQ) · (I − P Pᵀ). */
  residualMap: number[][];
  /** Components kept, and the share of the variance they explain. */
  components: number;
  explainedShare: number;
  t2Scale: number;
  qScale: number;
}

/**
 * Fits the model on `rows` windows of `width` features (row-major). Uses the
 * correlation matrix (features standardised first), so a tag's units never
 * decide how much it counts.
 */
export function fitPcaT2Q(features: Float64Array, rows: number, width: number, options: PcaT2QOptions): PcaT2QModel {
  if (rows < 2) throw new Error(`fitPcaT2Q: ${rows} windows cannot be fitted`);
  const mean = new Array<number>(width).fill(0);
  for (let i = 0; i < rows; i++) for (let j = 0; j < width; j++) mean[j]! += features[i * width + j] as number;
  for (let j = 0; j < width; j++) mean[j]! /= rows;
  const scale = new Array<number>(width).fill(0);
  for (let i = 0; i < rows; i++) for (let j = 0; j < width; j++) scale[j]! += ((features[i * width + j] as number) - mean[j]!) ** 2;
  for (let j = 0; j < width; j++) scale[j] = Math.max(Math.sqrt(scale[j]! / rows), options.featureSdFloor);

  const z = standardise(features, rows, width, mean, scale);
  const covariance = new Matrix(width, width);
  for (let a = 0; a < width; a++) {
    for (let b = a; b < width; b++) {
      let sum = 0;
      for (let i = 0; i < rows; i++) sum += (z[i * width + a] as number) * (z[i * width + b] as number);
      covariance.set(a, b, sum / (rows - 1));
      covariance.set(b, a, sum / (rows - 1));
    }
  }
  const evd = new EigenvalueDecomposition(covariance, { assumeSymmetric: true });
  const order = evd.realEigenvalues.map((value, index) => ({ value: Math.max(0, value), index })).sort((x, y) => y.value - x.value);
  const total = order.reduce((s, e) => s + e.value, 0);
  let kept = 0;
  let explained = 0;
  while (kept < width && (kept === 0 || explained < options.varianceShare * total)) explained += order[kept++]!.value;
  kept = Math.max(1, Math.min(kept, width - 1));
  explained = order.slice(0, kept).reduce((s, e) => s + e.value, 0);

  const vectors = evd.eigenvectorMatrix;
  const loadings = order.slice(0, kept).map((e) => vectors.getColumn(e.index));
  // A component with (almost) no variance would turn rounding into alarms.
  const largest = Math.max(order[0]?.value ?? 0, 1e-12);
  const variances = order.slice(0, kept).map((e) => Math.max(e.value, 1e-9 * largest));

  const inverseForm = zeros(width);
  const projector = zeros(width);
  for (let c = 0; c < kept; c++) {
    const p = loadings[c]!;
    for (let a = 0; a < width; a++) {
      for (let b = 0; b < width; b++) {
        inverseForm[a]![b]! += (p[a]! * p[b]!) / variances[c]!;
        projector[a]![b]! += p[a]! * p[b]!;
      }
    }
  }
  const residual = zeros(width).map((row, a) => row.map((_, b) => (a === b ? 1 : 0) - projector[a]![b]!));

  let t2Sum = 0;
  let qSum = 0;
  const y = new Float64Array(width);
  for (let i = 0; i < rows; i++) {
    t2Sum += quadratic(z, i * width, width, inverseForm);
    multiply(z, i * width, width, residual, y);
    for (let j = 0; j < width; j++) qSum += y[j]! * y[j]!;
  }
  const t2Scale = Math.max(t2Sum / rows, 1e-12);
  // Exactly collinear features leave no residual in training; a floor keeps a tiny later residual from scoring in the millions.
  const qScale = Math.max(qSum / rows, 1e-3 * (width - kept));
  const t2Weight = options.t2Weight;
  const residualWeight = Math.sqrt((1 - t2Weight) / qScale);
  return {
    featureMean: mean,
    featureScale: scale,
    t2Form: inverseForm.map((row) => row.map((v) => (v * t2Weight) / t2Scale)),
    residualMap: residual.map((row) => row.map((v) => v * residualWeight)),
    components: kept,
    explainedShare: total > 0 ? explained / total : 1,
    t2Scale,
    qScale,
  };
}

/** Scores and per-feature contributions (row-major, `rows × width`) of feature rows; each score is the sum of its row's contributions. */
export function scorePcaT2Q(model: PcaT2QModel, features: Float64Array, rows: number): { scores: Float64Array; contributions: Float64Array } {
  const width = model.featureMean.length;
  const z = standardise(features, rows, width, model.featureMean, model.featureScale);
  const scores = new Float64Array(rows);
  const contributions = new Float64Array(rows * width);
  const a = new Float64Array(width);
  const r = new Float64Array(width);
  for (let i = 0; i < rows; i++) {
    const at = i * width;
    multiply(z, at, width, model.t2Form, a);
    multiply(z, at, width, model.residualMap, r);
    let sum = 0;
    for (let j = 0; j < width; j++) {
      const c = (z[at + j] as number) * a[j]! + r[j]! * r[j]!;
      contributions[at + j] = c;
      sum += c;
    }
    scores[i] = sum;
  }
  return { scores, contributions };
}

function standardise(features: Float64Array, rows: number, width: number, mean: readonly number[], scale: readonly number[]): Float64Array {
  const z = new Float64Array(rows * width);
  for (let i = 0; i < rows; i++) for (let j = 0; j < width; j++) z[i * width + j] = ((features[i * width + j] as number) - mean[j]!) / scale[j]!;
  return z;
}

/** out = x · m for the row of x starting at `at` (m is width × width). */
function multiply(x: Float64Array, at: number, width: number, m: readonly number[][], out: Float64Array): void {
  out.fill(0);
  for (let a = 0; a < width; a++) {
    const v = x[at + a] as number;
    if (v === 0) continue;
    const row = m[a]!;
    for (let b = 0; b < width; b++) out[b]! += v * row[b]!;
  }
}

function quadratic(x: Float64Array, at: number, width: number, m: readonly number[][]): number {
  let sum = 0;
  for (let a = 0; a < width; a++) {
    const row = m[a]!;
    let inner = 0;
    for (let b = 0; b < width; b++) inner += row[b]! * (x[at + b] as number);
    sum += (x[at + a] as number) * inner;
  }
  return sum;
}

function zeros(width: number): number[][] {
  return Array.from({ length: width }, () => new Array<number>(width).fill(0));
}
