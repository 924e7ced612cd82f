import type { Episode } from '../../shared/episode.js';
import type { ModelManifest } from '../../shared/model-manifest.js';
import type { HubStorage } from '../storage/hub-storage.js';
import { fetchedSegment, type AgentHistoryReader } from './agent-history-data.js';
import { segmentSpan, type MissingSource, type TagSeries, type TrainingSegment } from './training-data.js';

/** Where an answered episode's data came from: the agent's raw history, or only the snapshot the episode carries. */
export type EpisodeDataRead = 'raw-history' | 'snapshot';

export interface EpisodeData {
  episode: Episode;
  /** The episode's span with the context before it (source kind `resolution`, its note says how it was read). */
  segment: TrainingSegment;
  read: EpisodeDataRead;
  /** Why the raw history could not be read (snapshot reads only). */
  whyNotRaw?: string;
}

/** One source named in the parent's lineage, as read again for the candidate. */
export interface ParentSourceRead {
  kind: MissingSource['kind'];
  name: string;
  /** The period the parent's lineage names. */
  from: number;
  to: number;
  /**
   * complete: read again in full; partial: the agent held only part of it
   * any more; snapshot: an answered episode whose raw history is gone, read
   * from its snapshot; missing: not read (the note says why).
   */
  read: 'complete' | 'partial' | 'snapshot' | 'missing';
  note?: string;
}

export interface ParentData {
  segments: TrainingSegment[];
  /** Answered episodes among the segments (the parent's own answers). */
  episodes: number;
  missing: MissingSource[];
  report: ParentSourceRead[];
}

/**
 * An answered episode's data for retraining: the raw history of the model's
 * tags from the agent that recorded it, over the episode and the context
 * before it (the manifest's snapshotBeforeMs, at least one window), so its
 * windows are cut as the agent cut them. When the agent is offline or no
 * longer holds that period, the episode's snapshot is the fallback: at most
 * snapshotMaxPoints per tag, downsampled by min/max, often too coarse to give
 * a full window. `problem` when neither has every tag.
 */
export async function readEpisodeData(episode: Episode, manifest: ModelManifest, reader: AgentHistoryReader): Promise<EpisodeData | { episode: Episode; problem: string }> {
  const context = Math.max(manifest.episodes.snapshotBeforeMs, manifest.windowLength * manifest.samplePeriodMs);
  const to = episode.end ?? Math.max(episode.start, ...episode.snapshot.map((s) => s.ts.at(-1) ?? -Infinity));
  const raw = await reader.read(episode.agent, episode.start - context, to);
  if (raw.ok) return { episode, segment: fetchedSegment({ kind: 'resolution', name: episode.id, note: `raw history from ${episode.agent}` }, raw.series), read: 'raw-history' };
  const snapshot = snapshotSegment(episode, manifest.tags, raw.reason);
  if (!snapshot) return { episode, problem: `no raw history (${raw.reason}) and its snapshot lacks some of the model's tags` };
  return { episode, segment: snapshot, read: 'snapshot', whyNotRaw: raw.reason };
}

/**
 * The parent's training data, read again so that the candidate keeps what the
 * parent knew: its agent-history sources from their agents (what is still
 * held, when the ring or the disk quota dropped part of it), and the episodes
 * it learnt from as answers (`readEpisodeData`). A CSV file or other data the
 * hub does not hold, an agent that cannot be asked, an episode no longer on
 * the hub or no longer answered normal: named in `missing` with the reason.
 * Episodes in `skip` are left out (they are this retraining's own answers).
 */
export async function readParentData(manifest: ModelManifest, reader: AgentHistoryReader, storage: HubStorage, skip: ReadonlySet<string>): Promise<ParentData> {
  const data: ParentData = { segments: [], episodes: 0, missing: [], report: [] };
  const miss = (source: { kind: MissingSource['kind']; name: string; from: number; to: number }, why: string): void => {
    const note = `not read again: ${why}`;
    data.missing.push({ kind: source.kind, name: source.name, from: source.from, to: source.to, note });
    data.report.push({ kind: source.kind, name: source.name, from: source.from, to: source.to, read: 'missing', note });
  };
  for (const source of manifest.lineage?.sources ?? []) {
    const named = { kind: source.kind, name: source.name, from: source.from, to: source.to };
    if (source.kind === 'agent-history') {
      const read = await reader.read(source.name, source.from, source.to);
      if (!read.ok) {
        miss(named, read.reason);
        continue;
      }
      const segment = fetchedSegment({ kind: 'agent-history', name: source.name }, read.series);
      const span = segmentSpan(segment);
      // Lineage periods are the first and last sample used; a window's span of slack allows for rounding and tags sampled at other moments.
      const slack = manifest.windowLength * manifest.samplePeriodMs;
      if (span.from > source.from + slack || span.to < source.to - slack) {
        segment.source.note = `partly read again: ${source.name} still held ${iso(span.from)} – ${iso(span.to)} of ${iso(source.from)} – ${iso(source.to)}`;
      }
      data.segments.push(segment);
      data.report.push({ ...named, read: segment.source.note ? 'partial' : 'complete', ...(segment.source.note ? { note: segment.source.note } : {}) });
    } else if (source.kind === 'resolution') {
      if (skip.has(source.name)) continue;
      const stored = await storage.getEpisode(source.name);
      if (!stored) {
        miss(named, 'the episode is no longer on the hub');
        continue;
      }
      if (stored.resolution?.label !== 'normal') {
        miss(named, 'the episode is no longer answered as normal operation');
        continue;
      }
      const episode = await readEpisodeData(stored.episode, manifest, reader);
      if ('problem' in episode) {
        miss(named, episode.problem);
        continue;
      }
      data.segments.push(episode.segment);
      data.episodes++;
      data.report.push({ ...named, read: episode.read === 'raw-history' ? 'complete' : 'snapshot', ...(episode.segment.source.note ? { note: episode.segment.source.note } : {}) });
    } else {
      miss(named, `the hub does not keep the ${source.kind === 'csv' ? 'CSV files' : 'extra normal data'} a model was trained from`);
    }
  }
  return data;
}

/** The answered stretch itself (episode start to end) of an episode's data: where parent and candidate are compared. Null when a tag has no sample in it. */
export function answeredStretch(data: EpisodeData): TrainingSegment | null {
  const { start, end } = data.episode;
  const series: TagSeries[] = [];
  for (const s of data.segment.series) {
    let a = 0;
    while (a < s.ts.length && (s.ts[a] as number) < start) a++;
    let b = a;
    while (b < s.ts.length && (s.ts[b] as number) <= (end ?? Infinity)) b++;
    if (b === a) return null;
    // Views, not copies: the stretch shares the buffers of the episode's segment.
    series.push({ tag: s.tag, ts: s.ts.subarray(a, b), values: s.values.subarray(a, b), ...(s.bad ? { bad: s.bad.subarray(a, b) } : {}) });
  }
  return { source: data.segment.source, series };
}

/** The episode's snapshot as one segment (the context before it and the episode), or null when a tag is missing from it. */
function snapshotSegment(episode: Episode, tags: readonly string[], whyNotRaw: string): TrainingSegment | null {
  const series: TagSeries[] = [];
  for (const tag of tags) {
    const snapshot = episode.snapshot.find((s) => s.tag === tag);
    if (!snapshot || snapshot.ts.length === 0) return null;
    series.push({
      tag,
      ts: Float64Array.from(snapshot.ts),
      values: Float64Array.from(snapshot.values, (v) => v ?? NaN),
      bad: Uint8Array.from(snapshot.quality, (q) => (q === 'bad' ? 1 : 0)),
    });
  }
  const points = Math.max(...series.map((s) => s.ts.length));
  return { source: { kind: 'resolution', name: episode.id, note: `snapshot only (${points} points per tag at most): ${whyNotRaw}` }, series };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
