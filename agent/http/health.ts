import type { SamplePipeline } from '../pipeline/sample-pipeline.js';
import type { Source, SourceHealth } from '../sources/source.js';

export interface HealthReport {
  status: 'ok' | 'degraded';
  reasons: string[];
  sources: SourceHealth[];
  pipeline: ReturnType<SamplePipeline['snapshot']>;
  uptimeSeconds: number;
}

/**
 * Healthy means: every source connected and the pipeline not refusing samples
 * right now. Anything else is a reason plant IT can act on, listed by name.
 */
export function assessHealth(sources: readonly Source[], pipeline: SamplePipeline, startedAt: number): HealthReport {
  const reasons: string[] = [];
  const healths = sources.map((s) => s.health());
  for (const h of healths) {
    if (!h.connected) reasons.push(`source ${h.name} (${h.type}) is not connected: ${h.state}${h.lastError ? ` — ${h.lastError}` : ''}`);
  }
  const p = pipeline.snapshot();
  if (p.depth >= p.capacity) reasons.push(`the sample pipeline is full (${p.capacity} samples); new samples are being dropped`);
  return {
    status: reasons.length === 0 ? 'ok' : 'degraded',
    reasons,
    sources: healths,
    pipeline: p,
    uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
  };
}
