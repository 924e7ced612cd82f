import { describe, expect, it } from 'vitest';
import { SamplePipeline } from '../../agent/pipeline/sample-pipeline.js';
import type { Sample } from '../../shared/sample.js';

const sample = (i: number): Sample => ({ tag: `t${i % 3}`, ts: i, value: i, quality: 'good' });
const nextTurn = () => new Promise((r) => setImmediate(r));

describe('SamplePipeline', () => {
  it('delivers every accepted sample in order to each consumer', async () => {
    const pipeline = new SamplePipeline(100, 7);
    const a: number[] = [];
    const b: number[] = [];
    pipeline.subscribe((batch) => a.push(...batch.map((s) => s.value)));
    pipeline.subscribe((batch) => b.push(...batch.map((s) => s.value)));
    for (let i = 0; i < 50; i++) expect(pipeline.push(sample(i))).toBe(true);
    for (let i = 0; i < 10; i++) await nextTurn();
    const expected = Array.from({ length: 50 }, (_, i) => i);
    expect(a).toEqual(expected);
    expect(b).toEqual(expected);
    expect(pipeline.snapshot()).toMatchObject({ received: 50, emitted: 50, droppedOverflow: 0, depth: 0 });
  });

  it('delivers everything queued in a single turn, however many batches that takes', async () => {
    // One socket read can bring far more samples than one batch; delivering
    // less than arrives per turn would fill the ring and drop.
    const pipeline = new SamplePipeline(1000, 7);
    let delivered = 0;
    pipeline.subscribe((batch) => (delivered += batch.length));
    for (let i = 0; i < 1000; i++) pipeline.push(sample(i));
    await nextTurn();
    expect(delivered).toBe(1000);
    expect(pipeline.snapshot().depth).toBe(0);
  });

  it('refuses and counts samples beyond capacity instead of growing', async () => {
    const pipeline = new SamplePipeline(10);
    const got: number[] = [];
    pipeline.subscribe((batch) => got.push(...batch.map((s) => s.value)));
    const dropped: number[] = [];
    pipeline.setOverflowListener((n) => dropped.push(n));
    const accepted = Array.from({ length: 25 }, (_, i) => pipeline.push(sample(i)));
    expect(accepted.filter(Boolean)).toHaveLength(10);
    expect(pipeline.snapshot()).toMatchObject({ received: 25, droppedOverflow: 15, depth: 10 });
    await nextTurn();
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(dropped).toEqual([15]);
    // Space is reusable once drained (the ring wraps around).
    for (let i = 100; i < 110; i++) expect(pipeline.push(sample(i))).toBe(true);
    await nextTurn();
    expect(got.slice(10)).toEqual(Array.from({ length: 10 }, (_, i) => 100 + i));
  });

  it('isolates a throwing consumer and counts the failure', async () => {
    const pipeline = new SamplePipeline(10);
    const got: number[] = [];
    pipeline.subscribe(() => {
      throw new Error('boom');
    });
    pipeline.subscribe((batch) => got.push(...batch.map((s) => s.value)));
    pipeline.push(sample(1));
    pipeline.push(sample(2));
    await nextTurn();
    expect(got).toEqual([1, 2]);
    expect(pipeline.snapshot().consumerErrors).toBe(2);
  });

  it('flush delivers what is queued synchronously (used at shutdown)', () => {
    const pipeline = new SamplePipeline(10);
    const got: number[] = [];
    pipeline.subscribe((batch) => got.push(...batch.map((s) => s.value)));
    pipeline.push(sample(1));
    pipeline.flush();
    expect(got).toEqual([1]);
  });
});
