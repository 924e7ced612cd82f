/** Score-like outbox bodies the store and sync benchmarks write: deterministic per index. */
export function scoreRecord(i: number): Record<string, unknown> {
  return {
    model: 'pump-pca',
    version: '1.4.0',
    shadow: false,
    start: 1_700_000_000_000 + i * 1000,
    end: 1_700_000_060_000 + i * 1000,
    status: 'scored',
    score: ((i * 7919) % 1000) / 97,
    level: 'normal',
    contributions: { 'p.temp': 0.41, 'p.flow': 0.22, 'p.current': 0.18 },
  };
}

/** A complete `WindowResult` (four tags, quality), the shape the agent sends the hub. */
export function windowResultRecord(i: number): Record<string, unknown> {
  const r = scoreRecord(i);
  return { ...r, contributions: { ...(r.contributions as object), 'p.vibration': 0.19 }, quality: { filledShare: 0, badShare: 0 } };
}
