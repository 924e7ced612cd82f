import { readModelPackage } from '../../agent/models/package-file.js';
import type { Episode } from '../../shared/episode.js';
import { VigilError } from '../../shared/errors.js';
import type { ModelManifest } from '../../shared/model-manifest.js';
import type { HistoryRequests } from '../gateway/history-requests.js';
import type { HubRegistry } from '../registry/hub-registry.js';
import type { HubStorage, ModelVersionRecord } from '../storage/hub-storage.js';
import { AgentHistoryReader } from './agent-history-data.js';
import type { AlarmCount } from './count-alarms.js';
import { answeredStretch, readEpisodeData, readParentData, type EpisodeData, type ParentSourceRead } from './retrain-data.js';
import { TRAINING_METHOD_ID, TrainingMethodSchema, type TrainingMethod } from './train-model.js';
import { trainInWorker } from './training-client.js';
import type { TrainingJob, TrainingJobResult } from './training-job.js';
import { trainingStep, type TrainingJobReport } from './training-jobs.js';
import type { TrainingSegment } from './training-data.js';

/** Most resolved episodes read for one retraining. */
const MAX_EPISODES = 1000;

/** Added to the description of a retrained version; replaced, not repeated, when a retrained version is retrained. */
const RETRAINED_SUFFIX = / — retrained from \d+ answer\(s\) on the hub$/;

export interface RetrainDeps {
  storage: HubStorage;
  registry: HubRegistry;
  /** Raw history from agents, wherever they are connected (the fleet's history requests). */
  history: Pick<HistoryRequests, 'fetch'>;
}

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
  /** Answered episodes learnt from: this version's and those the parent learnt from. */
  resolutionsUsed: number;
  /** This version's answered episodes that were used. */
  episodes: string[];
  comparison: RetrainComparison;
  /** Where the data came from (the lineage's source notes say the same per source). */
  data: {
    /** This version's answers by how their data was read: the agent's raw history, or only the episode's downsampled snapshot. */
    answers: { rawHistory: number; snapshot: number };
    /** Each source of the parent's lineage, read again or not. */
    parentSources: ParentSourceRead[];
  };
}

/**
 * Retrains a registered model from the answers given on the hub: the
 * candidate learns the parent's normal data plus the data of every episode of
 * `model@version` answered as *normal operation*.
 *
 * - Parent data: the sources its lineage names, read again (`readParentData`):
 *   agent history from its agent (what it still holds), the episodes it
 *   learnt from; what cannot be read is named in the candidate's lineage with
 *   windows 0 and why.
 * - Answers: each episode's raw history from the agent that recorded it,
 *   over its span and the context before it; only when the agent is offline
 *   or no longer holds the period, the episode's snapshot (`readEpisodeData`).
 *
 * Tags, sample period, window, hop, missing-data and episode settings come
 * from the parent's manifest; the method's parameters from its lineage when
 * Vigil trained it. Training and the comparison (parent and candidate scored
 * by ONNX, as an agent runs them, on the answered stretches) run in the
 * training worker thread; the candidate is signed and stored by the registry
 * like any upload. `report` hears each step (a hub training job's progress).
 */
export async function retrainFromAnswers(deps: RetrainDeps, request: RetrainRequest, report: TrainingJobReport = () => {}): Promise<RetrainResult> {
  const { storage, registry } = deps;
  const parentKey = `${request.model}@${request.version}`;
  const packageBytes = await storage.getPackage(request.model, request.version);
  if (!packageBytes) throw new VigilError('VIGIL_API_NOT_FOUND', `model ${request.model} version ${request.version} is not in the registry`, { details: { model: request.model, version: request.version } });
  const parent = readModelPackage(packageBytes, parentKey);
  const manifest = parent.manifest;

  const answered = (await storage.listEpisodes({ status: 'resolved', model: request.model, version: request.version, limit: MAX_EPISODES })).filter((s) => s.resolution?.label === 'normal');
  // Lists leave the snapshots out: each answered episode is read in full.
  const full = (await Promise.all(answered.map(async (s) => (await storage.getEpisode(s.episode.id))?.episode))).filter((e): e is Episode => e !== undefined);
  const reader = new AgentHistoryReader(deps.history, manifest.tags);
  const answers: EpisodeData[] = [];
  const problems: string[] = [];
  for (const [i, episode] of full.entries()) {
    report({ state: 'fetching-history', phase: 'answers', text: `the answered episodes' data, ${i} of ${full.length} read`, done: i, total: full.length, unit: 'episodes' });
    const data = await readEpisodeData(episode, manifest, reader);
    if ('problem' in data) problems.push(`${episode.id}: ${data.problem}`);
    else answers.push(data);
  }
  if (answers.length === 0) {
    throw new VigilError(
      'VIGIL_TRAINING_DATA_INVALID',
      `${parentKey} has no episode answered as normal operation with data of all its tags (${answered.length} answered normal${problems.length > 0 ? `; ${problems.join('; ')}` : ''}); answer its false alarms as normal operation first`,
      { details: { model: request.model, version: request.version, answeredNormal: answered.length } },
    );
  }
  const parentSources = manifest.lineage?.sources.length ?? 0;
  report({ state: 'fetching-history', phase: 'parent-data', text: `the parent's data again, ${parentSources} ${parentSources === 1 ? 'source' : 'sources'} in its lineage`, done: 0, total: parentSources, unit: 'sources' });
  const parentData = await readParentData(manifest, reader, storage, new Set(answers.map((a) => a.episode.id)));
  const answerSegments = answers.map((a) => a.segment);
  const stretches = answers.map(answeredStretch).filter((s): s is TrainingSegment => s !== null);
  const fromSnapshot = answers.filter((a) => a.read === 'snapshot');
  const resolutionsUsed = answers.length + parentData.episodes;

  const version = request.newVersion ?? (await nextFreeVersion(storage, request.model, request.version));
  const job: TrainingJob = {
    request: {
      name: manifest.name,
      version,
      description: `${manifest.description.replace(RETRAINED_SUFFIX, '')} — retrained from ${resolutionsUsed} answer(s) on the hub`,
      tags: manifest.tags,
      samplePeriodMs: manifest.samplePeriodMs,
      windowLength: manifest.windowLength,
      hop: manifest.hop,
      // Without any of the parent's data left, the answers are the normal set.
      normal: parentData.segments.length > 0 ? parentData.segments : answerSegments,
      extraNormal: parentData.segments.length > 0 ? answerSegments : [],
      method: methodOf(manifest),
      missingData: manifest.missingData,
      episodes: manifest.episodes,
      parent: parentKey,
      resolutionsUsed,
      missingSources: parentData.missing,
    },
    ...(stretches.length > 0 ? { compare: { parent, segments: stretches } } : {}),
  };
  let trained: TrainingJobResult;
  report({ state: 'training', phase: 'start', text: `${request.model}@${version}` });
  try {
    trained = await trainInWorker(job, (p) => report(trainingStep(p)));
  } catch (err) {
    throw withSnapshotHint(err, fromSnapshot);
  }
  report({ state: 'registering', phase: 'registering', text: `signing and storing ${request.model}@${version}` });
  const record = await registry.upload(trained.packageBytes, request.by);

  const comparison: RetrainComparison = trained.comparison
    ? { comparable: true, windows: trained.comparison.candidate.windows, parent: trained.comparison.parent, candidate: trained.comparison.candidate }
    : { comparable: false, reason: 'the answered episodes carry no data from their own span' };
  return {
    record,
    parent: parentKey,
    resolutionsUsed,
    episodes: answers.map((a) => a.episode.id),
    comparison,
    data: { answers: { rawHistory: answers.length - fromSnapshot.length, snapshot: fromSnapshot.length }, parentSources: parentData.report },
  };
}

/** A refusal for too little data says when answers could only be read from their coarse snapshots, and how to do better. */
function withSnapshotHint(err: unknown, fromSnapshot: readonly EpisodeData[]): unknown {
  if (!(err instanceof VigilError) || err.code !== 'VIGIL_TRAINING_DATA_INVALID' || fromSnapshot.length === 0) return err;
  const agents = [...new Set(fromSnapshot.map((a) => a.episode.agent))];
  return new VigilError(
    'VIGIL_TRAINING_DATA_INVALID',
    `${err.message}. ${fromSnapshot.length} answered episode(s) could only be read from their downsampled snapshots (${fromSnapshot[0]!.whyNotRaw ?? 'no raw history'}): retrain with ${agents.join(', ')} online and still holding that period`,
    { cause: err, details: { ...err.details, fromSnapshot: fromSnapshot.map((a) => a.episode.id) } },
  );
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

