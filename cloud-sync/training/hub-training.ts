import { readModelPackage } from '../../agent/models/package-file.js';
import type { Episode, TagSnapshot } from '../../shared/episode.js';
import { VigilError } from '../../shared/errors.js';
import type { ModelManifest } from '../../shared/model-manifest.js';
import type { HubRegistry } from '../registry/hub-registry.js';
import type { HubStorage, ModelVersionRecord } from '../storage/hub-storage.js';
import { countAlarms, type AlarmCount } from './count-alarms.js';
import { TRAINING_METHOD_ID, TrainingMethodSchema, trainModel, type TrainingMethod } from './train-model.js';
import { packTrainedModel } from './trained-package.js';
import type { TagSeries, TrainingSegment } from './training-data.js';

/** Most resolved episodes read for one retraining (each carries a snapshot of at most snapshotMaxPoints per tag). */
const MAX_EPISODES = 1000;

/** Added to the description of a retrained version; replaced, not repeated, when a retrained version is retrained. */
const RETRAINED_SUFFIX = / — retrained from \d+ answer\(s\) on the hub$/;

export interface RetrainRequest {
  model: string;
  version: string;
  /** The candidate's version; default the parent's next free patch version. */
  newVersion?: string;
  /** Who asked (recorded as the uploader). */
  by: string;
}

/** Alarm windows of parent and candidate over the answered episodes' own stretches. */
export type RetrainComparison = { comparable: true; windows: number; parent: AlarmCount; candidate: AlarmCount } | { comparable: false; reason: string };

export interface RetrainResult {
  record: ModelVersionRecord;
  parent: string;
  resolutionsUsed: number;
  /** Episode ids whose snapshots were used. */
  episodes: string[];
  comparison: RetrainComparison;
}

/**
 * Retrains a registered model from the answers given on the hub. The hub
 * keeps no raw history of its own, so the data is what the answered episodes
 * carry: each episode of `model@version` resolved as *normal operation*
 * contributes its snapshot — the part before the episode start (the
 * snapshotBeforeMs of context, normal by the agent's own verdict) as base
 * normal data, and the episode itself as an answer (`extraNormal`, source
 * kind `resolution`). Tags, sample period, window, hop, missing-data and
 * episode settings come from the parent's manifest; the method's parameters
 * from its lineage when Vigil trained it. The candidate is signed and stored
 * by the registry like any upload, and both versions are scored (ONNX, as an
 * agent runs them) on the answered stretches so the caller sees whether the
 * false alarms went down before deploying it in shadow.
 *
 * Training runs synchronously on the hub's event loop: the snapshots are
 * small (at most snapshotMaxPoints per tag and episode).
 */
export async function retrainFromAnswers(storage: HubStorage, registry: HubRegistry, request: RetrainRequest): Promise<RetrainResult> {
  const parentKey = `${request.model}@${request.version}`;
  const packageBytes = await storage.getPackage(request.model, request.version);
  if (!packageBytes) throw new VigilError('VIGIL_API_NOT_FOUND', `model ${request.model} version ${request.version} is not in the registry`, { details: { model: request.model, version: request.version } });
  const parent = readModelPackage(packageBytes, parentKey);

  const answered = (await storage.listEpisodes({ status: 'resolved', model: request.model, version: request.version, limit: MAX_EPISODES })).filter((s) => s.resolution?.label === 'normal');
  // Lists leave the snapshots out: each answered episode is read in full.
  const full = await Promise.all(answered.map(async (s) => (await storage.getEpisode(s.episode.id))?.episode));
  const usable = full.filter((e): e is Episode => e !== undefined).filter((e) => parent.manifest.tags.every((tag) => e.snapshot.some((s) => s.tag === tag && s.ts.length > 0)));
  if (usable.length === 0) {
    throw new VigilError(
      'VIGIL_TRAINING_DATA_INVALID',
      `${parentKey} has no episode answered as normal operation with a snapshot of all its tags (${answered.length} answered normal); answer its false alarms as normal operation first`,
      { details: { model: request.model, version: request.version, answeredNormal: answered.length } },
    );
  }
  const base = usable.map((e) => partOf(e, parent.manifest.tags, 'before')).filter((s): s is TrainingSegment => s !== null);
  const answers = usable.map((e) => partOf(e, parent.manifest.tags, 'episode')).filter((s): s is TrainingSegment => s !== null);
  if (base.length === 0) {
    throw new VigilError('VIGIL_TRAINING_DATA_INVALID', `the answered episodes of ${parentKey} carry no data from before their start (snapshotBeforeMs 0?): there is no normal base to retrain on`, {
      details: { model: request.model, version: request.version },
    });
  }

  const version = request.newVersion ?? (await nextFreeVersion(storage, request.model, request.version));
  const manifest = parent.manifest;
  const trained = trainModel({
    name: manifest.name,
    version,
    description: `${manifest.description.replace(RETRAINED_SUFFIX, '')} — retrained from ${usable.length} answer(s) on the hub`,
    tags: manifest.tags,
    samplePeriodMs: manifest.samplePeriodMs,
    windowLength: manifest.windowLength,
    hop: manifest.hop,
    normal: base,
    extraNormal: answers,
    method: methodOf(manifest),
    missingData: manifest.missingData,
    episodes: manifest.episodes,
    parent: parentKey,
    resolutionsUsed: usable.length,
  });
  const packed = await packTrainedModel(trained);
  const record = await registry.upload(packed.bytes, request.by);

  const comparison: RetrainComparison =
    answers.length === 0
      ? { comparable: false, reason: 'the answered episodes carry no data from their own span' }
      : await compare(parent, { manifest: packed.manifest, onnxBytes: packed.onnxBytes }, answers);
  return { record, parent: parentKey, resolutionsUsed: usable.length, episodes: usable.map((e) => e.id), comparison };
}

async function compare(parent: { manifest: ModelManifest; onnxBytes: Uint8Array }, candidate: { manifest: ModelManifest; onnxBytes: Uint8Array }, segments: TrainingSegment[]): Promise<RetrainComparison> {
  const parentCount = await countAlarms(parent.manifest, parent.onnxBytes, segments);
  const candidateCount = await countAlarms(candidate.manifest, candidate.onnxBytes, segments);
  return { comparable: true, windows: candidateCount.windows, parent: parentCount, candidate: candidateCount };
}

/**
 * One part of an episode's snapshot as a training segment: `before` the
 * episode start (normal context) or the `episode` itself (the answer). Null
 * when some tag has no sample in that part: the trainer needs every tag.
 */
function partOf(episode: Episode, tags: readonly string[], part: 'before' | 'episode'): TrainingSegment | null {
  const series: TagSeries[] = [];
  for (const tag of tags) {
    const snapshot = episode.snapshot.find((s) => s.tag === tag) as TagSnapshot;
    const keep = snapshot.ts.map((t, i) => ((part === 'before') === t < episode.start ? i : -1)).filter((i) => i >= 0);
    if (keep.length === 0) return null;
    series.push({
      tag,
      ts: Float64Array.from(keep, (i) => snapshot.ts[i] as number),
      values: Float64Array.from(keep, (i) => snapshot.values[i] ?? NaN),
      bad: Uint8Array.from(keep, (i) => (snapshot.quality[i] === 'bad' ? 1 : 0)),
    });
  }
  return part === 'before' ? { source: { kind: 'agent-history', name: `${episode.agent} before ${episode.id}` }, series } : { source: { kind: 'resolution', name: episode.id }, series };
}

/** The parent's method parameters when Vigil trained it with this method; otherwise the defaults. */
function methodOf(manifest: ModelManifest): Partial<TrainingMethod> {
  const lineage = manifest.lineage;
  if (lineage?.method !== TRAINING_METHOD_ID) return {};
  const known = Object.keys(TrainingMethodSchema.shape);
  return Object.fromEntries(Object.entries(lineage.parameters).filter(([key]) => known.includes(key))) as Partial<TrainingMethod>;
}

/** The parent's next patch version not yet in the registry (1.0.0 → 1.0.1, or 1.0.2 when 1.0.1 exists). */
async function nextFreeVersion(storage: HubStorage, name: string, version: string): Promise<string> {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!match) throw new VigilError('VIGIL_API_BAD_REQUEST', `${name}@${version}: give the new version explicitly`);
  const taken = new Set((await storage.listModelVersions(name)).map((r) => r.version));
  for (let patch = Number(match[3]) + 1; ; patch++) {
    const candidate = `${match[1]}.${match[2]}.${patch}`;
    if (!taken.has(candidate)) return candidate;
  }
}

