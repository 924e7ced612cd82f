import type { ModelRegistry, ModelSnapshot } from '../models/model-registry.js';
import type { ModelHost, VersionStats } from './model-host.js';

export interface VersionView extends VersionStats {
  role: 'active' | 'pending' | 'shadow' | 'previous';
  description: string;
  tags: readonly string[];
  samplePeriodMs: number;
  windowLength: number;
  hop: number;
  thresholds: { warn: number; alarm: number };
}

export interface RefusedPackage {
  file: string;
  /** `name@version` when the manifest could be read. */
  model: string | null;
  reason: string;
  at: number;
}

export interface ModelsView {
  models: Array<ModelSnapshot & { versions: VersionView[]; windows: Record<string, number> | null }>;
  /** Packages from the model folder that were refused (the latest refusal per file). */
  refusedPackages?: RefusedPackage[];
}

/** GET /models: per model, which version scores, which shadows, what happened lately, and how each version is doing. */
export function summarizeModels(registry: ModelRegistry, host: ModelHost): ModelsView {
  const stats = new Map(host.versionStats().map((s) => [s.key, s]));
  const windowCounters = host.windowCounters();
  return {
    models: registry.snapshot().map((snapshot) => {
      const versions: VersionView[] = [];
      for (const role of ['active', 'pending', 'shadow', 'previous'] as const) {
        const version = snapshot[role];
        if (!version) continue;
        const key = `${snapshot.name}@${version}`;
        const manifest = host.loadedManifest(key);
        const s = stats.get(key) ?? { key, scored: 0, insufficient: 0, shadowScored: 0, batches: 0, inferenceSeconds: 0, faults: 0, last: null };
        versions.push({
          ...s,
          role,
          description: manifest?.description ?? '',
          tags: manifest?.tags ?? [],
          samplePeriodMs: manifest?.samplePeriodMs ?? 0,
          windowLength: manifest?.windowLength ?? 0,
          hop: manifest?.hop ?? 0,
          thresholds: manifest?.thresholds ?? { warn: 0, alarm: 0 },
        });
      }
      const counters = windowCounters.find((w) => w.model === snapshot.name)?.counters;
      return { ...snapshot, versions, windows: counters ? { ...counters } : null };
    }),
  };
}
