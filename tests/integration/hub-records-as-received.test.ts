import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { joinRecordsTexts, recordsText } from '../../cloud-sync/gateway/records-text.js';
import { readAgentMessage } from '../../cloud-sync/gateway/read-agent-message.js';
import type { HubStorage } from '../../cloud-sync/storage/hub-storage.js';
import { openLmdbHubStorage } from '../../cloud-sync/storage/lmdb-storage.js';
import type { SyncRecord } from '../../shared/sync-protocol.js';

/** A batch message as the agent prints it: envelope first, records last. */
function batchText(records: readonly SyncRecord[], stream = 'scores', epoch = 'e1'): string {
  return JSON.stringify({ type: 'batch', stream, epoch, first: records[0]!.seq, last: records.at(-1)!.seq, records });
}

const scoreBody = (seq: number) => ({ model: 'm', version: '1.0.0', shadow: false, start: seq * 1000, end: seq * 1000 + 60_000, status: 'scored', score: seq / 7, level: 'normal', contributions: null, quality: { filledShare: 0, badShare: 0 } });
const scores = (from: number, to: number): SyncRecord[] => Array.from({ length: to - from + 1 }, (_, i) => ({ seq: from + i, at: 1_700_000_000_000 + from + i, body: scoreBody(from + i) }));

describe('recordsText: the records array of a batch as received', () => {
  it('cuts exactly the records of any batch the agent prints, whatever the bodies hold', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { minLength: 1, maxLength: 20 }), fc.string(), (bodies, epoch) => {
        const records = bodies.map((body, i) => ({ seq: i + 1, at: i, body }));
        const text = recordsText(Buffer.from(batchText(records, 'events', epoch)));
        expect(text).not.toBeNull();
        expect(JSON.parse(text!.toString('utf8'))).toEqual(JSON.parse(JSON.stringify(records)));
      }),
      { numRuns: 300 },
    );
  });

  it('cuts nothing it cannot be sure of', () => {
    const records = scores(1, 2);
    const cases = [
      // records not the last member
      `{"type":"batch","records":${JSON.stringify(records)},"stream":"scores","epoch":"e1","first":1,"last":2}`,
      // anything after the closing brace
      `${batchText(records)} `,
      // a nested value before the key: its "records" could be someone else's
      `{"x":{"records":[1]},"type":"batch","stream":"scores","epoch":"e1","first":1,"last":2,"records":${JSON.stringify(records)}}`,
      // the key twice: JSON.parse keeps the second, the first must not be cut
      `{"type":"batch","stream":"scores","epoch":"e1","first":1,"last":2,"records":[],"records":${JSON.stringify(records)}}`,
      // the key escaped, with a literal "records":[ inside a body
      `{"type":"batch","stream":"scores","epoch":"e1","first":1,"last":1,"rec\\u006frds":[{"seq":1,"at":1,"body":{"records":[2]}}]}`,
      // whitespace around the colon
      `{"type":"batch","stream":"scores","epoch":"e1","first":1,"last":2,"records" : ${JSON.stringify(records)}}`,
    ];
    for (const text of cases) expect(recordsText(Buffer.from(text)), text).toBeNull();
  });

  it('is what readAgentMessage hands the storage beside the parsed batch, and only for a batch it accepted', () => {
    const records = scores(1, 3);
    const read = readAgentMessage(Buffer.from(batchText(records)));
    expect(read.ok && read.message.type === 'batch' && read.message.records).toEqual(records);
    expect(JSON.parse(read.recordsText!.toString())).toEqual(records);
    const malformed = readAgentMessage(Buffer.from(batchText([{ seq: 0, at: 1, body: 1 }])));
    expect(malformed.ok).toBe(false);
    expect(malformed.recordsText).toBeUndefined();
  });

  it('joins the arrays of a run of batches into one', () => {
    const a = Buffer.from(JSON.stringify(scores(1, 2)));
    const b = Buffer.from(JSON.stringify(scores(3, 3)));
    expect(JSON.parse(joinRecordsTexts([a, b]).toString())).toEqual(scores(1, 3));
    expect(joinRecordsTexts([a])).toBe(a);
  });
});

describe('LMDB hub storage: a batch stored as received reads back like one stored parsed', () => {
  let dir: string | undefined;
  let storage: HubStorage | undefined;
  afterEach(async () => {
    await storage?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists, scans, counts and dedupes the same records either way', async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-records-as-received-'));
    storage = await openLmdbHubStorage(join(dir, 'hub'));
    const records = scores(1, 50);
    // A body without `body` (undefined in the outbox) reads back as null both ways.
    const withGap: SyncRecord[] = [...records, { seq: 51, at: 5 } as SyncRecord];
    const text = Buffer.from(JSON.stringify(withGap));
    expect(await storage.ingest('as-received', 'e1', 'scores', withGap, 1000, text)).toEqual({ stored: 51, duplicates: 0 });
    expect(await storage.ingest('parsed', 'e1', 'scores', withGap, 1000)).toEqual({ stored: 51, duplicates: 0 });

    const strip = (rs: Array<{ agent: string }>) => rs.map(({ agent: _agent, ...rest }) => rest);
    const listed = await storage.listRecords('scores', { agent: 'as-received', limit: 100 });
    expect(listed).toHaveLength(51);
    expect(strip(listed)).toEqual(strip(await storage.listRecords('scores', { agent: 'parsed', limit: 100 })));
    expect(listed.find((r) => r.seq === 51)!.body).toBeNull();
    expect(listed.find((r) => r.seq === 7)!.body).toEqual(scoreBody(7));
    expect(strip((await storage.listRecords('scores', { agent: 'as-received', model: 'm', limit: 10 })))).toHaveLength(10);

    const scanned = (await storage.scanRecords('scores', null, 1000)).records;
    expect(strip(scanned.filter((r) => r.agent === 'as-received'))).toEqual(strip(scanned.filter((r) => r.agent === 'parsed')));

    // A resend with its text: all duplicates. A partly new one: stored parsed (the text holds the old ones too).
    expect(await storage.ingest('as-received', 'e1', 'scores', withGap, 2000, text)).toEqual({ stored: 0, duplicates: 51 });
    const more = scores(50, 60);
    expect(await storage.ingest('as-received', 'e1', 'scores', more, 3000, Buffer.from(JSON.stringify(more)))).toEqual({ stored: 9, duplicates: 2 });
    const after = await storage.listRecords('scores', { agent: 'as-received', limit: 100 });
    expect(after.map((r) => r.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(after.find((r) => r.seq === 60)!.body).toEqual(scoreBody(60));
  });
});
