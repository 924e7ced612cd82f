import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { MalformedLog } from '../../agent/sources/mqtt/malformed-log.js';

describe('MalformedLog', () => {
  it('logs once per topic and reason per interval, then says how many were suppressed', () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    let now = 0;
    const m = new MalformedLog(log, 1000, 1000, () => now);
    for (let i = 0; i < 50; i++) m.report('a/b', 'malformed_json');
    m.report('a/b', 'not_a_number');
    m.report('a/c', 'malformed_json');
    expect(lines).toHaveLength(3);
    now = 1500;
    m.report('a/b', 'malformed_json');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatchObject({ topic: 'a/b', reason: 'malformed_json', suppressed: 49, code: 'VIGIL_MQTT_PAYLOAD_MALFORMED' });
    expect(String(lines[3]!.msg)).toContain('49 more since the last report');
  });

  it('bounds the topics it remembers', () => {
    const lines: unknown[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
    const m = new MalformedLog(log, 60_000, 10, () => 0);
    for (let i = 0; i < 1000; i++) m.report(`t/${i}`, 'malformed_json');
    expect(lines).toHaveLength(11);
  });
});
