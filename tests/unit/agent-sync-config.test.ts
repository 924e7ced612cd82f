import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkConfig } from '../../agent/config/load.js';
import { isError } from '../../agent/config/config-error.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-hub-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function check(hubLines: string[]) {
  const file = join(dir, 'agent.yaml');
  writeFileSync(file, ['agent: { id: gw-1 }', ...hubLines].join('\n'));
  return checkConfig(file);
}

describe('agent configuration: hub', () => {
  it('is optional: without it the agent runs on its own', async () => {
    const result = await check([]);
    expect(result.config?.hub).toBeUndefined();
  });

  it('fills in defaults and resolves its files from the configuration file’s folder', async () => {
    const result = await check(['hub:', '  url: wss://hub.plant.local:8720', '  tokenFile: secrets/hub.token', '  publicKeyFile: pki/hub.pub', '  caFile: /etc/vigil/ca.pem']);
    expect(result.issues.filter(isError)).toEqual([]);
    expect(result.config?.hub).toEqual({
      url: 'wss://hub.plant.local:8720',
      tokenFile: join(dir, 'secrets/hub.token'),
      publicKeyFile: join(dir, 'pki/hub.pub'),
      caFile: '/etc/vigil/ca.pem',
      heartbeatMs: 10_000,
      reconnect: { initialDelayMs: 1000, maxDelayMs: 60_000 },
      batchRecords: 500,
      inFlightBatches: 4,
    });
  });

  it('names what is wrong: no token, no public key, a non-websocket URL, a batch over the protocol limit, an inline token', async () => {
    const result = await check(['hub:', '  url: https://hub:8720', '  batchRecords: 5000', '  token: abc']);
    const messages = result.issues.filter(isError).map((i) => `${i.path}: ${i.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^hub.url: .*wss:\/\/hub.plant.local:8720/),
        expect.stringMatching(/^hub.batchRecords: .*2000/),
        expect.stringMatching(/^hub.publicKeyFile: /),
        expect.stringMatching(/^hub.token: passwords are never written inline/),
      ]),
    );
    const noToken = await check(['hub:', '  url: wss://hub:8720', '  publicKeyFile: hub.pub']);
    expect(noToken.issues.filter(isError).map((i) => i.message)).toEqual([expect.stringMatching(/needs the agent token: give tokenFile or tokenEnv/)]);
  });
});
