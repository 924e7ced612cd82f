import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPlainRecord, readAgentMessage } from '../../cloud-sync/gateway/read-agent-message.js';
import { MAX_BATCH_RECORDS, OutboxRecordSchema, parseAgentMessage } from '../../shared/sync-protocol.js';

// The gateway's fast path for batches must accept exactly what the zod schema
// accepts: compared here on valid records, near misses, and arbitrary JSON.

/** Numbers at and around every boundary the schema has. */
const edgeNumber = fc.constantFrom(0, -0, 1, -1, 1.5, 2 ** 31, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 1e300, -1e300, 1e-300, Number.MAX_VALUE);
const anyNumber = fc.oneof(edgeNumber, fc.double(), fc.integer());
const fieldValue = fc.oneof(anyNumber, fc.jsonValue(), fc.constant(undefined));

/** Objects built from the record's own keys, a few strangers, and `__proto__` as JSON writes it. */
const recordLike = fc
  .record(
    {
      seq: fieldValue,
      at: fieldValue,
      body: fc.jsonValue(),
      extra: fc.jsonValue(),
      proto: fc.jsonValue(),
    },
    { requiredKeys: [] },
  )
  .map((r) => {
    const parts: string[] = [];
    if ('seq' in r && r.seq !== undefined) parts.push(`"seq":${JSON.stringify(r.seq)}`);
    if ('at' in r && r.at !== undefined) parts.push(`"at":${JSON.stringify(r.at)}`);
    if ('body' in r) parts.push(`"body":${JSON.stringify(r.body) ?? 'null'}`);
    if ('extra' in r) parts.push(`"extra":${JSON.stringify(r.extra) ?? 'null'}`);
    if ('proto' in r) parts.push(`"__proto__":${JSON.stringify(r.proto) ?? 'null'}`);
    return JSON.parse(`{${parts.join(',')}}`) as unknown;
  });

const validRecord = fc.record({ seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), at: fc.double({ noNaN: true, noDefaultInfinity: true }), body: fc.jsonValue() });

const agrees = (value: unknown): void => {
  expect(isPlainRecord(value)).toBe(OutboxRecordSchema.safeParse(value).success);
};

describe('isPlainRecord', () => {
  it('accepts what OutboxRecordSchema accepts, for valid records', () => {
    fc.assert(fc.property(validRecord, (r) => {
      const parsed = JSON.parse(JSON.stringify(r)) as unknown;
      expect(isPlainRecord(parsed)).toBe(true);
      agrees(parsed);
    }), { numRuns: 500 });
  });

  it('agrees with OutboxRecordSchema on near misses and arbitrary JSON', () => {
    fc.assert(fc.property(recordLike, agrees), { numRuns: 3000 });
    // One field of a valid record replaced by a value at or around a boundary.
    fc.assert(
      fc.property(validRecord, fc.constantFrom('seq', 'at'), fc.oneof(anyNumber, fc.jsonValue()), (r, field, value) => {
        agrees(JSON.parse(JSON.stringify({ ...r, [field]: value })));
      }),
      { numRuns: 2000 },
    );
    for (const field of ['seq', 'at']) for (const value of [0, -1, 0.5, 2 ** 53, 1e300, '1', null, true]) agrees({ seq: 1, at: 1, body: null, [field]: value });
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      agrees(JSON.parse(JSON.stringify(v) ?? 'null'));
    }), { numRuns: 1000 });
    for (const text of ['{"seq":1,"at":2}', '{"seq":1,"body":0}', '{"at":1,"body":0}', '{"seq":1,"at":1e400,"body":0}', '{"seq":1e400,"at":1,"body":0}', '[1,2,3]', 'null', '"x"']) {
      agrees(JSON.parse(text));
    }
  });
});

describe('readAgentMessage', () => {
  const message = (records: unknown[], over: Record<string, unknown> = {}) =>
    Buffer.from(JSON.stringify({ type: 'batch', stream: 'scores', epoch: 'e1', first: 1, last: records.length, records, ...over }));
  const records = (n: number) => Array.from({ length: n }, (_, i) => ({ seq: i + 1, at: 1_700_000_000_000 + i, body: { score: i / 7, tags: { 'p.temp': 0.41 } } }));

  it('reads a batch exactly as parseAgentMessage does, and hands over its records as received', () => {
    const data = message(records(50));
    const { recordsText, ...read } = readAgentMessage(data);
    expect(read).toEqual(parseAgentMessage(data));
    expect(recordsText?.toString('utf8')).toBe(JSON.stringify(records(50)));
  });

  it('refuses exactly what parseAgentMessage refuses, with the same error', () => {
    const cases: Buffer[] = [
      message([]),
      message(records(MAX_BATCH_RECORDS + 1), { last: MAX_BATCH_RECORDS + 1 }),
      message(records(3), { stream: 'logs' }),
      message(records(3), { epoch: 'bad epoch' }),
      message(records(3), { first: 0 }),
      message(records(3), { extra: true }),
      message([...records(2), { seq: 3, at: 1 }]),
      message([...records(2), { seq: 3, at: 1, body: null, more: 1 }]),
      message([...records(2), { seq: 2.5, at: 1, body: null }]),
      message([...records(2), [3, 1, null]]),
      Buffer.from('{"type":"batch","stream":"scores","epoch":"e1","first":1,"last":1,"records":[{"seq":1,"at":1,"body":0}],"type":"hello"}'),
      Buffer.from('{"type":"batch","stream":"scores","epoch":"e1","first":1,"last":1,"records":[{"seq":1,"at":1,"body":0,"__proto__":1}]}'),
      Buffer.from('{"type":"batch"'),
      Buffer.from('[1]'),
      Buffer.from('{"type":"heartbeat"}'),
    ];
    for (const data of cases) {
      const fast = readAgentMessage(data);
      expect(fast.ok).toBe(false);
      expect(fast).toEqual(parseAgentMessage(data));
    }
  });

  it('agrees with parseAgentMessage on batches with arbitrary records', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(validRecord, recordLike), { minLength: 1, maxLength: 6 }), (rs) => {
        const data = Buffer.from(JSON.stringify({ type: 'batch', stream: 'events', epoch: 'e-1', first: 1, last: 9, records: rs }));
        const fast = readAgentMessage(data);
        const slow = parseAgentMessage(data);
        expect(fast.ok).toBe(slow.ok);
        if (!fast.ok) expect(fast).toEqual(slow);
        else if (slow.ok) {
          expect(JSON.parse(JSON.stringify(fast.message))).toEqual(JSON.parse(JSON.stringify(slow.message)));
          // The records as received parse to the records read.
          if (fast.recordsText !== undefined && fast.message.type === 'batch') expect(JSON.parse(fast.recordsText.toString('utf8'))).toEqual(JSON.parse(JSON.stringify(fast.message.records)));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('cuts the records as received only where they are certainly the parsed ones', () => {
    const head = '{"type":"batch","stream":"scores","epoch":"e1","first":1,"last":1';
    const recs = '[{"seq":1,"at":1,"body":{"records":[1],"s":",\\"records\\":["}}]';
    const cases: Array<[string, string | undefined]> = [
      // As the agent writes it: split in two parts.
      [`${head},"records":${recs}}`, recs],
      // An earlier records member is replaced by the last, as JSON.parse does.
      [`${head},"records":[{"seq":9,"at":9,"body":0}],"records":${recs}}`, undefined],
      [`{"records":[{"seq":9,"at":9,"body":0}],${head.slice(1)},"records":${recs}}`, recs],
      // Whitespace: the whole message is parsed (and cut by a scan).
      [`${head}, "records" : ${recs} }`, undefined],
      // The key inside a nested envelope value (refused by the schema, as by parseAgentMessage).
      [`{"x":{"y":1,"records":[2]},${head.slice(1)},"records":${recs}}`, undefined],
    ];
    for (const [text, cut] of cases) {
      const data = Buffer.from(text);
      const { recordsText, ...read } = readAgentMessage(data);
      expect(read).toEqual(parseAgentMessage(data));
      expect(read.ok).toBe(!text.startsWith('{"x"'));
      if (read.ok && read.message.type === 'batch') expect(read.message.records).toEqual(JSON.parse(text).records);
      if (cut !== undefined) expect(recordsText?.toString()).toBe(cut);
      if (recordsText !== undefined) expect(JSON.parse(recordsText.toString())).toEqual(JSON.parse(text).records);
    }
  });

  it('leaves other messages to parseAgentMessage', () => {
    const data = Buffer.from(JSON.stringify({ type: 'model_status', deployment: null, model: 'm', version: '1', status: 'active', at: 1 }));
    expect(readAgentMessage(data)).toEqual(parseAgentMessage(data));
  });
});
