import { EpisodeTracker } from '../../../agent/episodes/episode-tracker.js';
import { deployPackage } from '../../../agent/models/deploy-package.js';
import { ModelRegistry } from '../../../agent/models/model-registry.js';
import { ModelHost } from '../../../agent/scoring/model-host.js';
import type { ScoringClient } from '../../../agent/scoring/scoring-client.js';
import type { Episode } from '../../../shared/episode.js';
import { silentLogger } from '../../../shared/logger.js';
import type { ModelManifest } from '../../../shared/model-manifest.js';
import type { Sample } from '../../../shared/sample.js';
import type { WindowResult } from '../../../shared/window-result.js';

/** The agent's default models.lateToleranceMs. */
const LATE_TOLERANCE_MS = 2000;

export interface ReplayInput {
  packageBytes: Uint8Array;
  manifest: ModelManifest;
  /** Row times (ms) and, per manifest tag, the row values. */
  ts: Float64Array;
  values: ReadonlyMap<string, Float64Array>;
}

export interface ReplayOutcome {
  /** Per row: inside an episode's span [start, end) — the episode records the agent sends (open: no end yet). */
  inEpisode: boolean[];
  /** Per row: an episode was open once the latest window ending by the row's cell end had been judged (only data up to the row). */
  openAtArrival: boolean[];
  episodes: Episode[];
  scored: number;
  insufficient: number;
}

/**
 * Replays recorded rows through the agent's own pieces, one row at a time:
 * the package is deployed as the model folder would (`deployPackage`: read,
 * checksum, verification and dry run in the scoring worker), `ModelHost` cuts
 * event-time windows and scores them with onnxruntime-node in the worker, and
 * an `EpisodeTracker` with the manifest's episode parameters turns the window
 * levels into episodes. Nothing looks ahead: each row is scored before the
 * next is fed.
 */
export async function replayThroughAgent(client: ScoringClient, input: ReplayInput): Promise<ReplayOutcome> {
  const { manifest } = input;
  const registry = new ModelRegistry();
  const results: WindowResult[] = [];
  const host = new ModelHost(client, registry, { lateToleranceMs: LATE_TOLERANCE_MS, log: silentLogger(), onResults: (r) => results.push(...r) });
  const deployed = await deployPackage(input.packageBytes, manifest.name, { registry, loader: host, configuredTags: manifest.tags, log: silentLogger() });
  if (deployed.result !== 'activated') throw new Error(`the trained package was not activated: ${deployed.result} ${deployed.reason ?? ''}`);

  const tracker = new EpisodeTracker({ agentId: 'bench', model: manifest.name, params: manifest.episodes, snapshot: () => [], now: () => 0 });
  const latest = new Map<string, Episode>();
  /** Window ends and whether an episode was open after judging that window. */
  const judged: Array<{ end: number; open: boolean }> = [];
  let scored = 0;
  let insufficient = 0;
  const judge = (): void => {
    for (const r of results.splice(0)) {
      if (r.status === 'scored') scored++;
      else insufficient++;
      for (const e of tracker.onResults([r], manifest).episodes) {
        const seen = latest.get(e.id);
        if (!seen || seen.revision < e.revision) latest.set(e.id, e);
      }
      judged.push({ end: r.end, open: tracker.openEpisode() !== null });
    }
  };

  const columns = manifest.tags.map((tag) => {
    const v = input.values.get(tag);
    if (!v) throw new Error(`no values for tag "${tag}"`);
    return v;
  });
  const rows = input.ts.length;
  const openAtArrival = new Array<boolean>(rows).fill(false);
  let j = 0;
  for (let i = 0; i < rows; i++) {
    const ts = input.ts[i] as number;
    const batch: Sample[] = manifest.tags.map((tag, k) => {
      const value = columns[k]![i] as number;
      return { tag, ts, value, quality: Number.isFinite(value) ? 'good' : 'bad' };
    });
    host.consume(batch);
    await host.idle();
    judge();
  }
  // The rows' judgement once every window has been: what was known at the end of each row's cell.
  const period = manifest.samplePeriodMs;
  for (let i = 0; i < rows; i++) {
    const cellEnd = Math.floor((input.ts[i] as number) / period) * period + period;
    while (j < judged.length && judged[j]!.end <= cellEnd) j++;
    openAtArrival[i] = j > 0 && judged[j - 1]!.open;
  }
  await host.unload(`${manifest.name}@${manifest.version}`);

  const episodes = [...latest.values()].sort((a, b) => a.start - b.start);
  const inEpisode = Array.from(input.ts, (t) => episodes.some((e) => t >= e.start && (e.end === null || t < e.end)));
  return { inEpisode, openAtArrival, episodes, scored, insufficient };
}
