import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EpisodeTracker, type EpisodeParams, type EpisodeTrackerOptions, type SnapshotReader } from '../../agent/episodes/episode-tracker.js';
import type { AgentEvent, Episode, TagSnapshot } from '../../shared/episode.js';
import type { WindowResult } from '../../shared/window-result.js';

/**
 * Windows are written as strings, one letter per window:
 *   A alarm (score ≥ 2)   W warn (1 ≤ score < 2)   N below warn   I insufficient data
 * Window k covers [k·HOP, k·HOP + LEN) unless a test overlaps them.
 */
const HOP = 1000;
const THRESHOLDS = { warn: 1, alarm: 2 };
const MANIFEST = { version: '1.0.0', tags: ['flow', 'pressure', 'temp', 'vibration'], thresholds: THRESHOLDS };
const AGENT = 'plant-1';
const MODEL = 'pump';
const NOW = 1_700_000_000_000;
type Letter = 'A' | 'W' | 'N' | 'I';

const PARAMS: EpisodeParams = { openAfter: 2, closeAfter: 3, mergeGapMs: 0, minDurationMs: 0, snapshotBeforeMs: 10_000, snapshotMaxPoints: 50 };

const SCORE: Record<Letter, number | null> = { A: 3, W: 1.5, N: 0.5, I: null };

function win(k: number, letter: Letter, over: Partial<WindowResult> = {}, len = HOP): WindowResult {
  const score = SCORE[letter];
  return {
    model: MODEL,
    version: '1.0.0',
    shadow: false,
    start: k * HOP,
    end: k * HOP + len,
    status: score === null ? 'insufficient_data' : 'scored',
    score,
    level: score === null ? null : letter === 'A' ? 'alarm' : letter === 'W' ? 'warn' : 'normal',
    contributions: null,
    quality: score === null ? { filledShare: 0.1, badShare: 0.6 } : { filledShare: 0, badShare: 0 },
    ...over,
  };
}

function wins(letters: string, from = 0): WindowResult[] {
  return [...letters.replace(/\s/g, '')].map((l, i) => win(from + i, l as Letter));
}

interface SnapshotCall {
  tags: readonly string[];
  from: number;
  to: number;
  maxPoints: number;
}

/** A fake history ring: answers with the arguments, so records show which range was asked for. */
function fakeReader(calls: SnapshotCall[] = []): SnapshotReader {
  return (tags, from, to, maxPoints) => {
    calls.push({ tags: [...tags], from, to, maxPoints });
    return tags.map((tag) => ({ tag, ts: [from, to], values: [from / 1000, to / 1000], quality: ['good', 'good'] }));
  };
}

function options(params: Partial<EpisodeParams> = {}, over: Partial<EpisodeTrackerOptions> = {}): EpisodeTrackerOptions {
  return { agentId: AGENT, model: MODEL, params: { ...PARAMS, ...params }, snapshot: fakeReader(), updateIntervalMs: 1e12, now: () => NOW, ...over };
}

function tracker(params: Partial<EpisodeParams> = {}, over: Partial<EpisodeTrackerOptions> = {}): EpisodeTracker {
  return new EpisodeTracker(options(params, over));
}

/** Feeds windows one at a time and notes after which window each record came out. */
function feedEach(t: EpisodeTracker, results: WindowResult[]): Array<{ at: number; episode: Episode }> {
  const out: Array<{ at: number; episode: Episode }> = [];
  results.forEach((r, at) => {
    for (const episode of t.onResults([r], MANIFEST).episodes) out.push({ at, episode });
  });
  return out;
}

const brief = (e: Episode) => ({ id: e.id, revision: e.revision, state: e.state, start: e.start, end: e.end, windows: e.windows });
const id = (start: number) => `${AGENT}:${MODEL}:${start}`;

describe('EpisodeTracker rules', () => {
  it('opens exactly at the openAfter-th consecutive alarm window, starting at the first of them', () => {
    const t = tracker({ openAfter: 3 });
    const out = feedEach(t, wins('N A A N A A A'));
    expect(out.map((o) => o.at)).toEqual([6]);
    expect(out[0]!.episode).toMatchObject({ id: id(4000), revision: 1, state: 'open', start: 4000, end: null, windows: 3, agent: AGENT, model: MODEL, version: '1.0.0', thresholds: THRESHOLDS });
    expect(t.counters()).toMatchObject({ opened: 1, closed: 0 });
  });

  it('warn windows neither open nor close: they break an opening run and extend an open episode', () => {
    const t = tracker({ openAfter: 2, closeAfter: 2 });
    expect(t.onResults(wins('A W A W W'), MANIFEST).episodes).toEqual([]);
    const out = feedEach(t, wins('A A W W W W N N', 5));
    expect(out.map((o) => [o.at, brief(o.episode)])).toEqual([
      [1, { id: id(5000), revision: 1, state: 'open', start: 5000, end: null, windows: 2 }],
      [7, { id: id(5000), revision: 2, state: 'closed', start: 5000, end: 11_000, windows: 6 }],
    ]);
  });

  it('closes after closeAfter non-alarming windows; the end is the end of the last window at or above warn', () => {
    const t = tracker({ openAfter: 2, closeAfter: 3 });
    // The N N inside is shorter than closeAfter: it stays part of the episode.
    const out = feedEach(t, wins('A A N N A W N I N A'));
    const closed = out.find((o) => o.episode.state === 'closed')!;
    expect(closed.at).toBe(8);
    expect(brief(closed.episode)).toEqual({ id: id(0), revision: 2, state: 'closed', start: 0, end: 6000, windows: 6 });
    expect(closed.episode.meanScore).toBeCloseTo((3 + 3 + 0.5 + 0.5 + 3 + 1.5) / 6, 12);
    expect(closed.episode.peakScore).toBe(3);
    expect(t.counters()).toMatchObject({ opened: 1, closed: 1 });
  });

  it('insufficient windows do not count toward opening but do toward closing', () => {
    const t = tracker({ openAfter: 2, closeAfter: 2 });
    expect(t.onResults(wins('A I A I'), MANIFEST).episodes).toEqual([]);
    const out = feedEach(t, wins('A A I I', 4));
    expect(out.map((o) => brief(o.episode))).toEqual([
      { id: id(4000), revision: 1, state: 'open', start: 4000, end: null, windows: 2 },
      { id: id(4000), revision: 2, state: 'closed', start: 4000, end: 6000, windows: 2 },
    ]);
  });

  it('an episode starting within mergeGapMs of the last one ending reopens it: same id, next revision', () => {
    const t = tracker({ openAfter: 2, closeAfter: 2, mergeGapMs: 5000 });
    // Closes at window 3 with end 2 s; the next run starts at 6 s: 4 s later, less than 5 s.
    const out = feedEach(t, wins('A A N N N N A A N N'));
    expect(out.map((o) => [o.at, brief(o.episode)])).toEqual([
      [1, { id: id(0), revision: 1, state: 'open', start: 0, end: null, windows: 2 }],
      [3, { id: id(0), revision: 2, state: 'closed', start: 0, end: 2000, windows: 2 }],
      [7, { id: id(0), revision: 3, state: 'open', start: 0, end: null, windows: 8 }],
      [9, { id: id(0), revision: 4, state: 'closed', start: 0, end: 8000, windows: 8 }],
    ]);
    // The windows of the gap belong to the merged episode: four alarms, four below warn.
    expect(out[3]!.episode.meanScore).toBeCloseTo((4 * 3 + 4 * 0.5) / 8, 12);
    expect(t.counters()).toMatchObject({ opened: 1, merged: 1, closed: 2 });
  });

  it('an episode starting mergeGapMs or more after the last one ended is a new one', () => {
    const t = tracker({ openAfter: 2, closeAfter: 2, mergeGapMs: 4000 });
    // Ends at 2 s; the next run starts at 6 s: exactly the gap, so no merge.
    const out = feedEach(t, wins('A A N N N N A A'));
    expect(out.map((o) => [o.episode.id, o.episode.revision, o.episode.state])).toEqual([
      [id(0), 1, 'open'],
      [id(0), 2, 'closed'],
      [id(6000), 1, 'open'],
    ]);
    expect(t.counters()).toMatchObject({ opened: 2, merged: 0 });
  });

  it('a run that breaks off between two episodes is part of the merged episode', () => {
    const t = tracker({ openAfter: 3, closeAfter: 1, mergeGapMs: 10_000 });
    const out = t.onResults(wins('A A A N A A N A A A N'), MANIFEST).episodes;
    expect(out.map((e) => brief(e))).toEqual([
      { id: id(0), revision: 1, state: 'open', start: 0, end: null, windows: 3 },
      { id: id(0), revision: 2, state: 'closed', start: 0, end: 3000, windows: 3 },
      { id: id(0), revision: 3, state: 'open', start: 0, end: null, windows: 10 },
      { id: id(0), revision: 4, state: 'closed', start: 0, end: 10_000, windows: 10 },
    ]);
  });

  it('with openAfter 1, an alarm starting exactly mergeGapMs after the end opens a new episode', () => {
    const t = tracker({ openAfter: 1, closeAfter: 1, mergeGapMs: 2000 });
    // Ends at 1 s; window 3 starts at 3 s = 1 s + 2 s.
    const out = t.onResults(wins('A N N A'), MANIFEST).episodes;
    expect(out.map((e) => [e.id, e.revision, e.state])).toEqual([
      [id(0), 1, 'open'],
      [id(0), 2, 'closed'],
      [id(3000), 1, 'open'],
    ]);
  });

  it('a run that starts within the gap and opens after it still merges', () => {
    const t = tracker({ openAfter: 3, closeAfter: 1, mergeGapMs: 2000 });
    // Ends at 3 s; the run starts at 4 s (< 5 s) and reaches three alarms at 6 s, past the gap.
    const out = t.onResults(wins('A A A N A A A'), MANIFEST).episodes;
    expect(out.map((e) => [e.id, e.revision, e.state, e.windows])).toEqual([
      [id(0), 1, 'open', 3],
      [id(0), 2, 'closed', 3],
      [id(0), 3, 'open', 7],
    ]);
  });

  it('overlapping windows: a run starting before the last episode ended merges even with mergeGapMs 0', () => {
    const t = tracker({ openAfter: 2, closeAfter: 1, mergeGapMs: 0 });
    const long = (k: number, l: Letter) => win(k, l, {}, 3 * HOP);
    // Closes at window 2 (end of window 1: 4 s); window 3 starts at 3 s < 4 s.
    const out = feedEach(t, [long(0, 'A'), long(1, 'A'), long(2, 'N'), long(3, 'A'), long(4, 'A'), long(5, 'N')]);
    expect(new Set(out.map((o) => o.episode.id))).toEqual(new Set([id(0)]));
    expect(out.at(-1)!.episode).toMatchObject({ revision: 4, state: 'closed', end: 7000 });
  });

  it('minDurationMs holds an episode back until it has lasted that long; a short blip is never emitted', () => {
    const t = tracker({ openAfter: 2, closeAfter: 2, minDurationMs: 5000 });
    expect(t.onResults(wins('A A A N N'), MANIFEST).episodes).toEqual([]);
    expect(t.openEpisode()).toBeNull();
    expect(t.counters()).toMatchObject({ opened: 1, droppedShort: 1, closed: 0 });
    const out = feedEach(t, wins('A A A A A A N N', 10));
    // Window 14 ends at 15 s, 5 s after the start: the first record comes out there, as revision 1.
    expect(out.map((o) => [o.at, brief(o.episode)])).toEqual([
      [4, { id: id(10_000), revision: 1, state: 'open', start: 10_000, end: null, windows: 5 }],
      [7, { id: id(10_000), revision: 2, state: 'closed', start: 10_000, end: 16_000, windows: 6 }],
    ]);
  });

  it('short episodes merged within the gap count together toward minDurationMs', () => {
    const t = tracker({ openAfter: 2, closeAfter: 1, mergeGapMs: 3000, minDurationMs: 6000 });
    const out = feedEach(t, wins('A A N A A N A A N N N N'));
    expect(out.map((o) => [o.at, brief(o.episode)])).toEqual([
      [7, { id: id(0), revision: 1, state: 'open', start: 0, end: null, windows: 8 }],
      [8, { id: id(0), revision: 2, state: 'closed', start: 0, end: 8000, windows: 8 }],
    ]);
    expect(t.counters()).toMatchObject({ opened: 1, merged: 2, droppedShort: 0 });
  });

  it('a held-back episode is dropped and counted once no later opening could merge into it', () => {
    const t = tracker({ openAfter: 1, closeAfter: 1, mergeGapMs: 3000, minDurationMs: 4000 });
    t.onResults(wins('A N N'), MANIFEST);
    expect(t.counters().droppedShort).toBe(0); // window 3 could still start a merge (3 s < 1 s + 3 s)
    t.onResults(wins('N', 3), MANIFEST);
    expect(t.counters().droppedShort).toBe(0);
    t.onResults(wins('N', 4), MANIFEST);
    expect(t.counters().droppedShort).toBe(1);
    expect(t.state().episode).toBeNull();
  });

  it('updates an open episode at most every updateIntervalMs of event time', () => {
    const t = tracker({ openAfter: 2, closeAfter: 2 }, { updateIntervalMs: 3000 });
    const out = feedEach(t, wins('A A A A A A A A N N'));
    // Opens at window 1 (end 2 s); updates when a window ends 3 s after the last record: 5 s, 8 s; then the close.
    expect(out.map((o) => [o.at, o.episode.revision, o.episode.state, o.episode.windows])).toEqual([
      [1, 1, 'open', 2],
      [4, 2, 'open', 5],
      [7, 3, 'open', 8],
      [9, 4, 'closed', 8],
    ]);
    expect(t.counters()).toMatchObject({ updates: 2, closed: 1 });
  });

  it('raises insufficient_data when a run of insufficient windows starts and data_resumed when scores come back, once per run', () => {
    const t = tracker();
    const events: AgentEvent[] = [];
    for (const r of wins('N I I I N N I I A')) events.push(...t.onResults([r], MANIFEST).events);
    expect(events.map((e) => [e.kind, e.details?.windowStart])).toEqual([
      ['insufficient_data', 1000],
      ['data_resumed', 4000],
      ['insufficient_data', 6000],
      ['data_resumed', 8000],
    ]);
    expect(events[0]).toMatchObject({ at: NOW, agent: AGENT, subject: MODEL, details: { version: '1.0.0', badShare: 0.6, filledShare: 0.1 } });
    expect(events[0]!.message).toMatch(/too little real data/);
    expect(events[1]).toMatchObject({ details: { since: 1000, until: 4000, windows: 3 } });
  });

  it('asks for a snapshot of the model tags and its score series from snapshotBeforeMs before the start to the end (or the latest window)', () => {
    const calls: SnapshotCall[] = [];
    const t = tracker({ openAfter: 2, closeAfter: 2, snapshotBeforeMs: 30_000, snapshotMaxPoints: 77 }, { snapshot: fakeReader(calls), updateIntervalMs: 2000 });
    const out = t.onResults(wins('N N A A A A N N'), MANIFEST).episodes;
    expect(out.map((e) => [e.revision, e.state])).toEqual([
      [1, 'open'],
      [2, 'open'],
      [3, 'closed'],
    ]);
    const tags = [...MANIFEST.tags, `score:${MODEL}`];
    expect(calls).toEqual([
      { tags, from: 2000 - 30_000, to: 4000, maxPoints: 77 },
      { tags, from: 2000 - 30_000, to: 6000, maxPoints: 77 },
      { tags, from: 2000 - 30_000, to: 6000, maxPoints: 77 },
    ]);
    // The model's tags are the snapshot; its score series travels beside it.
    expect(out[2]!.snapshot.map((s) => [s.tag, s.ts])).toEqual(MANIFEST.tags.map((tag) => [tag, [-28_000, 6000]]));
    expect(out[2]!.scores).toMatchObject({ tag: `score:${MODEL}`, ts: [-28_000, 6000] });
  });

  it('keeps the snapshot bound even when the reader returns more points, and survives a reader that throws', () => {
    const many: SnapshotReader = (tags) =>
      tags.map((tag): TagSnapshot => ({ tag, ts: Array.from({ length: 1000 }, (_, i) => i), values: Array.from({ length: 1000 }, (_, i) => (i === 500 ? 99 : 0)), quality: Array(1000).fill('good') }));
    const t1 = tracker({ snapshotMaxPoints: 20 }, { snapshot: many });
    const [first] = t1.onResults(wins('A A'), MANIFEST).episodes;
    expect(first!.snapshot.every((s) => s.ts.length <= 20)).toBe(true);
    expect(first!.snapshot[0]!.values).toContain(99);

    const t2 = tracker({}, {
      snapshot: () => {
        throw new Error('ring unreadable');
      },
    });
    const [second] = t2.onResults(wins('A A'), MANIFEST).episodes;
    expect(second).toMatchObject({ revision: 1, snapshot: [] });
    expect(t2.counters().snapshotFailures).toBe(1);
  });

  it('topTags: the three largest summed contributions as shares of the total, largest first', () => {
    const t = tracker({ openAfter: 2, closeAfter: 1 });
    const c = (flow: number, pressure: number, temp: number, vibration: number) => ({ contributions: { flow, pressure, temp, vibration } });
    const [open] = t.onResults([win(0, 'A', c(1, 2, 3, 4)), win(1, 'A', c(1, 4, -3, 0))], MANIFEST).episodes;
    // Sums of magnitudes: flow 2, pressure 6, temp 6, vibration 4; total 18. Tie on 6 goes by name.
    expect(open!.topTags).toEqual([
      { tag: 'pressure', share: 6 / 18 },
      { tag: 'temp', share: 6 / 18 },
      { tag: 'vibration', share: 4 / 18 },
    ]);
    const plain = tracker().onResults(wins('A A'), MANIFEST).episodes[0]!;
    expect(plain.topTags).toEqual([]);
  });

  it('keeps the version of the window that opened the episode', () => {
    const t = tracker({ openAfter: 1, closeAfter: 1 });
    const out = t.onResults([win(0, 'A', { version: '1.0.0' }), win(1, 'A', { version: '2.0.0' }), win(2, 'N', { version: '2.0.0' })], { ...MANIFEST, version: '2.0.0' }).episodes;
    expect(out.map((e) => e.version)).toEqual(['1.0.0', '1.0.0']);
    expect(out[1]!.windows).toBe(2);
  });

  it('judges a window by its own level, and by the thresholds only when it has none', () => {
    const t = tracker({ openAfter: 1 });
    // Scored 5 by a version whose alarm threshold was 10: normal, even though 5 ≥ the manifest's alarm.
    expect(t.onResults([win(0, 'N', { score: 5, level: 'normal' })], MANIFEST).episodes).toEqual([]);
    expect(t.onResults([win(1, 'N', { score: 5, level: null })], MANIFEST).episodes).toHaveLength(1);
  });

  it('ignores shadow results, skips windows that do not move forward, refuses another model', () => {
    const t = tracker({ openAfter: 2 });
    expect(t.onResults([win(0, 'A', { shadow: true }), win(1, 'A', { shadow: true })], MANIFEST).episodes).toEqual([]);
    expect(t.onResults(wins('A A'), MANIFEST).episodes).toHaveLength(1);
    expect(t.onResults(wins('A A'), MANIFEST).episodes).toEqual([]);
    expect(t.counters().skippedOutOfOrder).toBe(2);
    expect(() => t.onResults([win(5, 'A', { model: 'other' })], MANIFEST)).toThrow(/other/);
  });

  it('openEpisode shows the open episode as of the latest window, without a snapshot', () => {
    const t = tracker({ openAfter: 2, closeAfter: 2 });
    t.onResults(wins('A A A W N'), MANIFEST);
    expect(t.openEpisode()).toMatchObject({ id: id(0), revision: 1, state: 'open', end: null, windows: 4, peakScore: 3, snapshot: [] });
    t.onResults(wins('N', 5), MANIFEST);
    expect(t.openEpisode()).toBeNull();
  });

  it('restore refuses a state of another model or format', () => {
    const state = tracker().state();
    expect(() => EpisodeTracker.restore(state, options({}, { model: 'other' }))).toThrow(/other/);
    expect(() => EpisodeTracker.restore({ ...state, format: 2 as 1 }, options())).toThrow(/format/);
  });
});

// ---------------------------------------------------------------------------
// Properties over random level sequences.

interface Scenario {
  params: EpisodeParams;
  updateIntervalMs: number;
  /** Window length in hops: overlapping windows when > 1. */
  span: number;
  letters: Letter[];
  results: WindowResult[];
}

const letterArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Letter>('A') },
  { weight: 2, arbitrary: fc.constant<Letter>('W') },
  { weight: 3, arbitrary: fc.constant<Letter>('N') },
  { weight: 1, arbitrary: fc.constant<Letter>('I') },
);

/** Scores in quarters: exactly representable, so sums do not depend on the order they are added in. */
function scoreOf(letter: Letter, q: number): number | null {
  if (letter === 'A') return 2 + (q % 9) / 4;
  if (letter === 'W') return 1 + (q % 4) / 4;
  if (letter === 'N') return (q % 4) / 4;
  return null;
}

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    openAfter: fc.integer({ min: 1, max: 4 }),
    closeAfter: fc.integer({ min: 1, max: 4 }),
    mergeGapMs: fc.integer({ min: 0, max: 16 }).map((n) => n * 500),
    minDurationMs: fc.integer({ min: 0, max: 16 }).map((n) => n * 500),
    updateIntervalMs: fc.integer({ min: 0, max: 6 }).map((n) => n * 1300),
    span: fc.integer({ min: 1, max: 3 }),
    windows: fc.array(fc.tuple(letterArb, fc.nat(), fc.boolean()), { maxLength: 150 }),
  })
  .map(({ openAfter, closeAfter, mergeGapMs, minDurationMs, updateIntervalMs, span, windows }) => ({
    params: { openAfter, closeAfter, mergeGapMs, minDurationMs, snapshotBeforeMs: 5000, snapshotMaxPoints: 10 },
    updateIntervalMs,
    span,
    letters: windows.map(([l]) => l),
    results: windows.map(([letter, q, withContributions], k) => {
      const score = scoreOf(letter, q);
      return win(k, letter, {
        score,
        contributions: score !== null && withContributions ? { flow: q % 5, pressure: (q >> 3) % 7, temp: (q >> 6) % 3 } : null,
      }, span * HOP);
    }),
  }));

function run(s: Scenario, chunks: WindowResult[][] = [s.results]): { episodes: Episode[]; events: AgentEvent[]; tracker: EpisodeTracker } {
  const t = new EpisodeTracker(options(s.params, { updateIntervalMs: s.updateIntervalMs }));
  const episodes: Episode[] = [];
  const events: AgentEvent[] = [];
  for (const chunk of chunks) {
    const out = t.onResults(chunk, MANIFEST);
    episodes.push(...out.episodes);
    events.push(...out.events);
  }
  return { episodes, events, tracker: t };
}

function lastRevisions(episodes: Episode[]): Episode[] {
  const last = new Map<string, Episode>();
  for (const e of episodes) last.set(e.id, e);
  return [...last.values()].sort((a, b) => a.start - b.start);
}

/** Followed by `closeAfter` below-warn or insufficient windows, so every episode must be closed by the end. */
function withClosingTail(s: Scenario, tail: Letter[]): Scenario {
  const n = s.results.length;
  const extra = tail.slice(0, s.params.closeAfter).map((l, i) => win(n + i, l, {}, s.span * HOP));
  return { ...s, letters: [...s.letters, ...tail.slice(0, s.params.closeAfter)], results: [...s.results, ...extra] };
}

const closingTailArb = fc.array(fc.constantFrom<Letter>('N', 'I'), { minLength: 4, maxLength: 4 });

/**
 * The rules as a batch computation over the whole sequence, written
 * independently of the tracker: raw episodes by the open/close rules, then
 * merged when closer than the gap, then dropped when shorter than the minimum.
 */
function reference(s: Scenario): Array<{ first: number; lastHigh: number; closed: boolean }> {
  const { openAfter, closeAfter, mergeGapMs, minDurationMs } = s.params;
  const raw: Array<{ first: number; lastHigh: number; closed: boolean }> = [];
  let open: { first: number; lastHigh: number; quiet: number } | null = null;
  let run = 0;
  for (let k = 0; k < s.letters.length; k++) {
    const l = s.letters[k]!;
    if (!open) {
      run = l === 'A' ? run + 1 : 0;
      if (run >= openAfter) {
        open = { first: k - openAfter + 1, lastHigh: k, quiet: 0 };
        run = 0;
      }
    } else if (l === 'A' || l === 'W') {
      open.lastHigh = k;
      open.quiet = 0;
    } else if (++open.quiet >= closeAfter) {
      raw.push({ first: open.first, lastHigh: open.lastHigh, closed: true });
      open = null;
    }
  }
  if (open) raw.push({ first: open.first, lastHigh: open.lastHigh, closed: false });
  const startOf = (k: number) => s.results[k]!.start;
  const endOf = (k: number) => s.results[k]!.end;
  const merged: typeof raw = [];
  for (const e of raw) {
    const prev = merged.at(-1);
    if (prev && startOf(e.first) - endOf(prev.lastHigh) < mergeGapMs) Object.assign(prev, { lastHigh: e.lastHigh, closed: e.closed });
    else merged.push({ ...e });
  }
  return merged.filter((e) => endOf(e.lastHigh) - startOf(e.first) >= minDurationMs);
}

const RUNS = { numRuns: 1000 };

describe('EpisodeTracker properties', () => {
  it('(a) an episode never opens without openAfter consecutive alarm windows at its start', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        for (const e of run(s).episodes) {
          const k = s.results.findIndex((r) => r.start === e.start);
          expect(k).toBeGreaterThanOrEqual(0);
          expect(s.letters.slice(k, k + s.params.openAfter)).toEqual(Array(s.params.openAfter).fill('A'));
        }
      }),
      RUNS,
    );
  });

  it('(b) every episode is closed once closeAfter non-alarming windows follow', () => {
    fc.assert(
      fc.property(scenarioArb, closingTailArb, (s0, tail) => {
        const s = withClosingTail(s0, tail);
        const { episodes, tracker: t } = run(s);
        for (const e of lastRevisions(episodes)) expect(e.state).toBe('closed');
        expect(t.openEpisode()).toBeNull();
      }),
      RUNS,
    );
  });

  it('(c) revisions of an id count up from 1; nothing is ever emitted for an episode shorter than minDurationMs', () => {
    fc.assert(
      fc.property(scenarioArb, closingTailArb, (s0, tail) => {
        const s = withClosingTail(s0, tail);
        const { episodes } = run(s);
        const seen = new Map<string, number>();
        for (const e of episodes) {
          expect(e.revision).toBe((seen.get(e.id) ?? 0) + 1);
          seen.set(e.id, e.revision);
          if (e.state === 'closed') expect(e.end! - e.start).toBeGreaterThanOrEqual(s.params.minDurationMs);
        }
        // Every id ends closed here, and its final duration is long enough.
        for (const e of lastRevisions(episodes)) expect(e.end! - e.start).toBeGreaterThanOrEqual(s.params.minDurationMs);
      }),
      RUNS,
    );
  });

  it('revisions of an open episode are at least updateIntervalMs of event time apart', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const previous = new Map<string, Episode>();
        for (const e of run(s).episodes) {
          const before = previous.get(e.id);
          // The fake reader echoes the range it was asked for: snapshot ts[1] is the event time of the revision.
          if (before?.state === 'open' && e.state === 'open') expect(e.snapshot[0]!.ts[1]! - before.snapshot[0]!.ts[1]!).toBeGreaterThanOrEqual(s.updateIntervalMs);
          previous.set(e.id, e);
        }
      }),
      RUNS,
    );
  });

  it('(d) final revisions never overlap and are at least mergeGapMs apart', () => {
    fc.assert(
      fc.property(scenarioArb, closingTailArb, (s0, tail) => {
        const s = withClosingTail(s0, tail);
        const finals = lastRevisions(run(s).episodes);
        for (let i = 1; i < finals.length; i++) {
          expect(finals[i]!.start - finals[i - 1]!.end!).toBeGreaterThanOrEqual(s.params.mergeGapMs);
          expect(finals[i]!.start).toBeGreaterThanOrEqual(finals[i - 1]!.end!);
        }
      }),
      RUNS,
    );
  });

  it('(e) the same windows split into any chunks give the same records and events', () => {
    fc.assert(
      fc.property(scenarioArb, fc.array(fc.nat(), { maxLength: 8 }), (s, cuts) => {
        const points = [...new Set(cuts.map((c) => c % (s.results.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...points, s.results.length].slice(1).map((end, i, ends) => s.results.slice(i === 0 ? 0 : ends[i - 1], end));
        const whole = run(s);
        const split = run(s, chunks);
        expect(split.episodes).toEqual(whole.episodes);
        expect(split.events).toEqual(whole.events);
        expect(split.tracker.counters()).toEqual(whole.tracker.counters());
      }),
      RUNS,
    );
  });

  it('(f) state() then restore() mid-stream gives the same records as an uninterrupted run, even when windows before the cut are replayed', () => {
    fc.assert(
      fc.property(scenarioArb, fc.nat(), fc.integer({ min: 0, max: 3 }), (s, cut, replayed) => {
        const at = cut % (s.results.length + 1);
        const whole = run(s);
        const first = new EpisodeTracker(options(s.params, { updateIntervalMs: s.updateIntervalMs }));
        const a = first.onResults(s.results.slice(0, at), MANIFEST);
        // Through JSON, as the agent state is stored.
        const state = JSON.parse(JSON.stringify(first.state()));
        const second = EpisodeTracker.restore(state, options(s.params, { updateIntervalMs: s.updateIntervalMs }));
        const b = second.onResults(s.results.slice(Math.max(0, at - replayed)), MANIFEST);
        expect([...a.episodes, ...b.episodes]).toEqual(whole.episodes);
        expect([...a.events, ...b.events]).toEqual(whole.events);
        expect(second.openEpisode()).toEqual(whole.tracker.openEpisode());
      }),
      RUNS,
    );
  });

  it('final records agree with a batch computation of the rules (open, close, merge, minimum duration, figures)', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const { episodes, tracker: t } = run(s);
        const finals = lastRevisions(episodes);
        const expected = reference(s);
        expect(finals.map((e) => e.start)).toEqual(expected.map((e) => s.results[e.first]!.start));
        expected.forEach((ref, i) => {
          const inside = s.results.slice(ref.first, ref.lastHigh + 1);
          const scores = inside.flatMap((r) => (r.score === null ? [] : [r.score]));
          const figures = { windows: inside.length, peakScore: Math.max(...scores), meanScore: scores.reduce((x, y) => x + y, 0) / scores.length };
          if (ref.closed) {
            expect(finals[i]).toMatchObject({ state: 'closed', end: s.results[ref.lastHigh]!.end, ...figures });
          } else {
            expect(i).toBe(expected.length - 1);
            expect(t.openEpisode()).toMatchObject({ id: finals[i]!.id, state: 'open', end: null, ...figures });
          }
        });
      }),
      RUNS,
    );
  });

  it('insufficient_data and data_resumed alternate, one pair per run of insufficient windows', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const kinds = run(s).events.map((e) => e.kind);
        const runs = s.letters.join('').match(/I+/g)?.length ?? 0;
        expect(kinds.filter((k) => k === 'insufficient_data')).toHaveLength(runs);
        kinds.forEach((k, i) => expect(k).toBe(i % 2 === 0 ? 'insufficient_data' : 'data_resumed'));
      }),
      RUNS,
    );
  });
});
