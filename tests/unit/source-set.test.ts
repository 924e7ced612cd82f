import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../agent/config/load.js';
import type { ResolvedConfig } from '../../agent/config/schema.js';
import { diffConfig } from '../../agent/service/config-diff.js';
import { SourceSet } from '../../agent/service/source-set.js';
import { silentLogger } from '../../shared/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-source-set-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Real MQTT sources against a port nobody listens on: they start, retry in the background, and stop. */
async function config(sources: string[]): Promise<ResolvedConfig> {
  const file = join(dir, `${sources.join('-')}.yaml`);
  writeFileSync(
    file,
    [
      `agent: { id: set-test, dataDir: ${join(dir, 'state')} }`,
      'sources:',
      ...sources.map((name) => `  - { name: ${name}, type: mqtt, url: "mqtt://127.0.0.1:1", reconnect: { initialDelayMs: 60000, maxDelayMs: 60000 } }`),
      'tags:',
      ...sources.map((name) => `  - { name: ${name}.level, source: ${name}, topic: ${name}/level, format: number }`),
    ].join('\n') + '\n',
  );
  return loadConfig(file);
}

describe('SourceSet across reloads', () => {
  it('a source added and removed again does not stay attached to the agent\'s abort signal; one added later still stops with the agent', async () => {
    const one = await config(['a']);
    const two = await config(['a', 'b']);
    const set = new SourceSet(one, { agentId: 'set-test', dataDir: join(dir, 'state'), sink: { push: () => true }, status: { tagError: () => {} }, log: silentLogger() });
    const agent = new AbortController();
    const warnings: string[] = [];
    const onWarning = (w: Error) => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      await set.start(agent.signal);
      expect(getEventListeners(agent.signal, 'abort')).toHaveLength(1);
      for (let i = 0; i < 12; i++) {
        await set.apply(diffConfig(one, two), two, () => undefined);
        expect(set.list.map((s) => s.name)).toEqual(['a', 'b']);
        await set.apply(diffConfig(two, one), one, () => undefined);
        expect(set.list.map((s) => s.name)).toEqual(['a']);
      }
      expect(getEventListeners(agent.signal, 'abort')).toHaveLength(1);

      await set.apply(diffConfig(one, two), two, () => undefined);
      expect(getEventListeners(agent.signal, 'abort')).toHaveLength(2);
      agent.abort();
      await new Promise((r) => setTimeout(r, 50));
      expect(set.list.map((s) => [s.name, s.health().state])).toEqual([
        ['a', 'stopped'],
        ['b', 'stopped'],
      ]);
      await new Promise((r) => setImmediate(r));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
      await set.stop();
    }
  });
});
