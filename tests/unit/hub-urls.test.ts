import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isError } from '../../agent/config/config-error.js';
import { checkConfig } from '../../agent/config/load.js';
import { configuredHubUrls, HubUrlRotation } from '../../agent/sync/hub-urls.js';

const A = 'wss://a:8720';
const B = 'wss://b:8720';
const C = 'wss://c:8720';

describe('configuredHubUrls', () => {
  it('takes the list, or the one url', () => {
    expect(configuredHubUrls({ urls: [A, B] })).toEqual([A, B]);
    expect(configuredHubUrls({ url: A })).toEqual([A]);
    expect(() => configuredHubUrls({})).toThrow(/neither url nor urls/);
  });
});

describe('HubUrlRotation', () => {
  it('starts at the first URL and moves on at once after a failed attempt; a full round ends in a backoff back at the start', () => {
    const r = new HubUrlRotation([A, B, C]);
    expect(r.current()).toBe(A);
    expect(r.attemptFailed()).toEqual({ url: B, moved: true, roundOver: false });
    expect(r.attemptFailed()).toEqual({ url: C, moved: true, roundOver: false });
    expect(r.attemptFailed()).toEqual({ url: A, moved: true, roundOver: true });
    // The next round is a full round again.
    expect(r.attemptFailed()).toEqual({ url: B, moved: true, roundOver: false });
  });

  it('starts each round at the URL that last welcomed the agent', () => {
    const r = new HubUrlRotation([A, B, C]);
    r.attemptFailed();
    expect(r.current()).toBe(B);
    r.welcomed();
    // A dropped connection goes to the next replica first, then round over all of them.
    expect(r.dropped()).toEqual({ url: C, moved: true });
    expect(r.attemptFailed()).toEqual({ url: A, moved: true, roundOver: false });
    expect(r.attemptFailed()).toEqual({ url: B, moved: true, roundOver: false });
    expect(r.attemptFailed()).toEqual({ url: B, moved: false, roundOver: true });
    expect(r.current()).toBe(B);
  });

  it('after a drop and a welcome elsewhere, the new replica is home', () => {
    const r = new HubUrlRotation([A, B]);
    r.welcomed();
    expect(r.dropped()).toEqual({ url: B, moved: true });
    r.welcomed();
    expect(r.attemptFailed()).toEqual({ url: A, moved: true, roundOver: false });
    expect(r.attemptFailed()).toEqual({ url: B, moved: true, roundOver: true });
  });

  it('stays on the URL after a refused token (every replica checks the same token) and starts the round over', () => {
    const r = new HubUrlRotation([A, B, C]);
    r.attemptFailed();
    r.unauthorized();
    expect(r.current()).toBe(B);
    expect(r.attemptFailed()).toEqual({ url: C, moved: true, roundOver: false });
    expect(r.attemptFailed()).toEqual({ url: A, moved: true, roundOver: false });
    expect(r.attemptFailed()).toEqual({ url: A, moved: false, roundOver: true });
  });

  it('with one URL never moves and every failure is a full round (the backoff of a single hub)', () => {
    const r = new HubUrlRotation([A]);
    expect(r.attemptFailed()).toEqual({ url: A, moved: false, roundOver: true });
    r.welcomed();
    expect(r.dropped()).toEqual({ url: A, moved: false });
    expect(() => new HubUrlRotation([])).toThrow(/at least one/);
  });
});

describe('agent configuration: hub.url or hub.urls', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-hub-urls-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** `line:column path message` of each error, for a hub section written below line 1. */
  async function errors(hubLines: string[]) {
    const file = join(dir, 'agent.yaml');
    writeFileSync(file, ['agent: { id: gw-1 }', 'hub:', ...hubLines.map((l) => `  ${l}`), '  tokenFile: hub.token', '  publicKeyFile: hub.pub'].join('\n') + '\n');
    const result = await checkConfig(file);
    return { config: result.config, errors: result.issues.filter(isError).map((i) => `${i.file === file ? 'agent.yaml' : i.file}:${i.line}:${i.column} ${i.path} ${i.message}`) };
  }

  it('accepts a list of replicas, in order', async () => {
    const result = await errors(['urls:', '  - wss://hub-a:8720', '  - wss://hub-b:8720']);
    expect(result.errors).toEqual([]);
    expect(result.config?.hub?.urls).toEqual(['wss://hub-a:8720', 'wss://hub-b:8720']);
    expect(result.config?.hub?.url).toBeUndefined();
  });

  it('refuses both url and urls, at the urls line', async () => {
    const result = await errors(['url: wss://hub-lb:8720', 'urls: [wss://hub-a:8720]']);
    expect(result.config).toBeUndefined();
    expect(result.errors).toEqual([expect.stringMatching(/^agent\.yaml:4:\d+ hub\.urls give either url .* or urls .*, not both$/)]);
  });

  it('refuses neither, at the hub section', async () => {
    const result = await errors([]);
    expect(result.config).toBeUndefined();
    expect(result.errors).toEqual([expect.stringMatching(/^agent\.yaml:3:3 hub\.url the hub needs its address: give url .* or urls /)]);
  });

  it('refuses a duplicate, an empty list, more than 16 and a URL that is not ws(s)://, each where it is written', async () => {
    const duplicate = await errors(['urls: [wss://hub-a:8720, wss://hub-b:8720, wss://hub-a:8720]']);
    expect(duplicate.errors).toEqual([expect.stringMatching(/^agent\.yaml:3:\d+ hub\.urls\[2\] the hub URL wss:\/\/hub-a:8720 is listed twice$/)]);
    expect((await errors(['urls: []'])).errors).toEqual([expect.stringMatching(/^agent\.yaml:3:\d+ hub\.urls /)]);
    const many = Array.from({ length: 17 }, (_, i) => `wss://hub-${i}:8720`);
    expect((await errors([`urls: [${many.join(', ')}]`])).errors).toEqual([expect.stringMatching(/^agent\.yaml:3:\d+ hub\.urls .*16/)]);
    expect((await errors(['urls:', '  - wss://hub-a:8720', '  - https://hub-b:8720'])).errors).toEqual([
      expect.stringMatching(/^agent\.yaml:5:\d+ hub\.urls\[1\] .*wss:\/\/hub\.plant\.local:8720/),
    ]);
  });
});
