import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/logger.js';

describe('logger', () => {
  it('never writes secrets, wherever they sit in a logged object', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = createLogger({ level: 'info' }, sink);
    log.info({ password: 'p1', user: { username: 'op', password: 'p2' }, source: { mqtt: { token: 't3' } }, privateKey: 'k' }, 'connecting');
    const text = lines.join('');
    for (const secret of ['p1', 'p2', 't3', '"k"']) expect(text).not.toContain(secret);
    expect(text).toContain('"username":"op"');
    expect(text.match(/\[redacted\]/g)).toHaveLength(4);
  });

  it('writes JSON lines when stdout is not a terminal', () => {
    const log = createLogger({ pretty: false, level: 'warn' });
    expect(log.level).toBe('warn');
    expect(log.isLevelEnabled('info')).toBe(false);
  });
});
