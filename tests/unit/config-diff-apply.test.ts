import { describe, expect, it } from 'vitest';
import type { Sample } from '../../shared/sample.js';
import { silentLogger } from '../../shared/logger.js';
import { HandoverSink } from '../../agent/service/handover-sink.js';
import { SourceSlot } from '../../agent/service/source-slot.js';
import { emptyCounters, type SampleSink, type Source } from '../../agent/sources/source.js';
import { TagTable } from '../../agent/tags/tag-table.js';

const sample = (tag: string, ts: number, value = ts): Sample => ({ tag, ts, value, quality: 'good' });

function collector(): SampleSink & { got: Sample[] } {
  const got: Sample[] = [];
  return { got, push: (s) => (got.push(s), true) };
}

/** A source that records what happens to it and pushes what the test says. */
function fakeSource(name: string, sink: SampleSink, log: string[], id: string) {
  let connected = false;
  const counters = emptyCounters();
  const source: Source & { emit: (s: Sample) => void; connect: () => void } = {
    name,
    type: 'opcua',
    start: async () => void log.push(`start ${id}`),
    stop: async () => {
      log.push(`stop ${id}`);
      connected = false;
    },
    health: () => ({ name, type: 'opcua', connected, state: connected ? 'connected' : 'connecting', since: 0, tagsConfigured: 1 }),
    counters: () => ({ ...counters, dropped: { ...counters.dropped } }),
    emit: (s) => {
      if (sink.push(s)) counters.samples++;
      counters.messages++;
      counters.dropped.x = (counters.dropped.x ?? 0) + 1;
    },
    connect: () => void (connected = true),
  };
  return source;
}

describe('TagTable.reconfigure', () => {
  it('removes tags no longer configured and discoveries of a removed template, keeps the values of the rest', () => {
    const table = new TagTable();
    table.configure([
      { name: 'a', source: 'plc1' },
      { name: 'b', source: 'plc1' },
      { name: 'hall.{1}', source: 'broker' },
      { name: 'line.{1}', source: 'broker' },
    ]);
    table.consume([sample('a', 1), sample('a', 2), sample('b', 1), sample('hall.x', 1), sample('line.y', 1)]);
    table.reconfigure([
      { name: 'a', source: 'plc1' },
      { name: 'c', source: 'plc2' },
      { name: 'line.{1}', source: 'broker2' },
    ]);
    expect(table.list().map((t) => [t.tag, t.source, t.samples])).toEqual([
      ['a', 'plc1', 2],
      ['c', 'plc2', 0],
      ['line.y', 'broker2', 1],
    ]);
    // A template that is gone no longer adopts new topics.
    table.consume([sample('hall.z', 1)]);
    expect(table.get('hall.z')).toMatchObject({ source: '', configured: 'hall.z' });
  });

  it('gives a tag that delivered before it was configured its source', () => {
    const table = new TagTable();
    table.consume([sample('early', 1)]);
    table.reconfigure([{ name: 'early', source: 'plc1' }]);
    expect(table.get('early')).toMatchObject({ source: 'plc1', samples: 1 });
  });
});

describe('HandoverSink', () => {
  it('passes everything on outside a handover, and only newer values per tag during one', () => {
    const out = collector();
    const sink = new HandoverSink(out);
    expect(sink.push(sample('a', 5))).toBe(true);
    sink.beginHandover((tag) => (tag === 'a' ? 5 : undefined));
    expect(sink.push(sample('a', 5))).toBe(false); // the new session's first value: already delivered
    expect(sink.push(sample('a', 6))).toBe(true);
    expect(sink.push(sample('a', 6))).toBe(false); // the other session's copy
    expect(sink.push(sample('b', 1))).toBe(true);
    expect(sink.push(sample('b', 1))).toBe(false);
    expect(sink.duplicates).toBe(3);
    sink.endHandover();
    expect(sink.push(sample('a', 6))).toBe(true);
    expect(out.got.map((s) => `${s.tag}@${s.ts}`)).toEqual(['a@5', 'a@6', 'b@1', 'a@6']);
  });
});

describe('SourceSlot.replace', () => {
  it('overlap: starts the new instance, stops the old one once the new is connected, and keeps counting across both', async () => {
    const out = collector();
    const log: string[] = [];
    let old!: ReturnType<typeof fakeSource>;
    const slot = new SourceSlot('plc1', (sink) => (old = fakeSource('plc1', sink, log, 'old')), out, silentLogger());
    await slot.start();
    old.connect();
    old.emit(sample('a', 1));
    old.emit(sample('a', 2));

    let next!: ReturnType<typeof fakeSource>;
    const replaced = slot.replace((sink) => (next = fakeSource('plc1', sink, log, 'new')), { overlap: true, connectWaitMs: 5000, settleMs: 50, newestTs: () => 2 });
    await new Promise((r) => setTimeout(r, 120));
    // Both run: the old one still delivers, the new one's first values duplicate it.
    expect(log).toEqual(['start old', 'start new']);
    old.emit(sample('a', 3));
    next.emit(sample('a', 3));
    next.emit(sample('a', 2));
    expect(slot.health().connected).toBe(true);
    next.connect();
    await replaced;
    expect(log).toEqual(['start old', 'start new', 'stop old']);
    next.emit(sample('a', 4));
    expect(out.got.map((s) => s.ts)).toEqual([1, 2, 3, 4]);
    // 2 + 1 samples from the old one, 1 from the new (its duplicates are not samples); messages and drops add up too.
    expect(slot.counters()).toMatchObject({ samples: 4, messages: 6, dropped: { x: 6 } });
    await new Promise((r) => setTimeout(r, 80));
    next.emit(sample('a', 4));
    expect(out.got.map((s) => s.ts)).toEqual([1, 2, 3, 4, 4]);
  });

  it('without overlap: stops the old instance first, starts the new one, and shows the old health while it connects', async () => {
    const out = collector();
    const log: string[] = [];
    let old!: ReturnType<typeof fakeSource>;
    const slot = new SourceSlot('broker', (sink) => (old = fakeSource('broker', sink, log, 'old')), out, silentLogger());
    await slot.start();
    old.connect();
    old.emit(sample('m', 1));
    let next!: ReturnType<typeof fakeSource>;
    await slot.replace((sink) => (next = fakeSource('broker', sink, log, 'new')), { overlap: false, connectWaitMs: 0, settleMs: 0, newestTs: () => undefined });
    expect(log).toEqual(['start old', 'stop old', 'start new']);
    expect(slot.health().connected).toBe(true);
    next.emit(sample('m', 1));
    expect(out.got).toHaveLength(2);
    expect(slot.counters().samples).toBe(2);
    await slot.stop();
    expect(log.at(-1)).toBe('stop new');
  });
});
