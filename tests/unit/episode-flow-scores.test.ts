import { describe, expect, it } from 'vitest';
import { EpisodeFlow } from '../../agent/episodes/episode-flow.js';
import type { Episode, TagSnapshot } from '../../shared/episode.js';
import { silentLogger } from '../../shared/logger.js';
import { ModelManifestSchema } from '../../shared/model-manifest.js';
import type { Sample } from '../../shared/sample.js';
import type { WindowResult } from '../../shared/window-result.js';
import { pcaManifest } from '../helpers/pca-package.js';

const manifest = ModelManifestSchema.parse(
  pcaManifest({ name: 'pump', version: '1.0.0', tags: ['a', 'b', 'c', 'd'], thresholds: { warn: 1, alarm: 2 }, episodes: { openAfter: 2, closeAfter: 1, snapshotBeforeMs: 5000 }, onnx: { file: 'model.onnx', sha256: '0'.repeat(64) } }),
);

function result(k: number, score: number, shadow = false): WindowResult {
  return { model: 'pump', version: '1.0.0', shadow, start: k * 1000, end: k * 1000 + 1000, status: 'scored', score, level: score >= 2 ? 'alarm' : score >= 1 ? 'warn' : 'normal', contributions: null, quality: { filledShare: 0, badShare: 0 } };
}

describe('EpisodeFlow score series', () => {
  it('keeps active scores as a history series and sends them with each episode, shadow scores left out', async () => {
    const history: Sample[] = [];
    const appended: Record<string, unknown[]> = { scores: [], episodes: [], events: [] };
    const read = (tags: readonly string[], from: number, to: number): TagSnapshot[] =>
      tags.map((tag) => {
        const s = history.filter((x) => x.tag === tag && x.ts >= from && x.ts <= to);
        return { tag, ts: s.map((x) => x.ts), values: s.map((x) => x.value), quality: s.map((x) => x.quality) };
      });
    const flow = new EpisodeFlow({
      agentId: 'gw',
      outbox: { append: async (stream, bodies) => (appended[stream]!.push(...bodies), { first: 1, last: bodies.length }) },
      state: { get: () => undefined, put: async () => undefined },
      snapshot: read,
      recordScores: (samples) => history.push(...samples),
      manifest: () => manifest,
      log: silentLogger(),
    });
    flow.onResults([result(0, 0.5), result(1, 0.7), result(1, 9, true), result(2, 3), result(3, 4), result(4, 0.2)]);
    await flow.idle();

    expect(history.map((s) => [s.tag, s.ts, s.value])).toEqual([
      ['score:pump', 1000, 0.5],
      ['score:pump', 2000, 0.7],
      ['score:pump', 3000, 3],
      ['score:pump', 4000, 4],
      ['score:pump', 5000, 0.2],
    ]);
    const closed = (appended.episodes as Episode[]).find((e) => e.state === 'closed')!;
    expect(closed.snapshot.map((s) => s.tag)).toEqual(['a', 'b', 'c', 'd']);
    // From snapshotBeforeMs before the start (2000) to the end (4000).
    expect(closed.scores).toEqual({ tag: 'score:pump', ts: [1000, 2000, 3000, 4000], values: [0.5, 0.7, 3, 4], quality: ['good', 'good', 'good', 'good'] });
  });
});
