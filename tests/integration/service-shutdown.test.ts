import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRACEFUL_STOP_MS } from '../../agent/service/signals.js';
import { openAgentStore } from '../../agent/store/open-store.js';
import { silentLogger } from '../../shared/logger.js';
import { eventually, spawnVigil, type VigilProcess } from '../helpers/agent-process.js';
import { requireBroker } from '../helpers/broker.js';
import { startFakeNotifySocket, type FakeNotifySocket } from '../helpers/fake-notify-socket.js';
import { PUMP1_SIGNALS, PUMP1_TAGS, pcaPackage } from '../helpers/pca-package.js';

/**
 * SIGTERM while MQTT messages pour in and a model scores every 200 ms: the
 * agent stops within the bound with exit code 0, and nothing is lost — every
 * score it reported durable (/metrics) is in its outbox, and every message
 * of the load tag is in the raw history, either because the agent committed
 * it before stopping or because the broker redelivered it (unacknowledged)
 * after the restart.
 */
describe('graceful stop under load (real agent process)', () => {
  let brokerUrl: string;
  let notify: FakeNotifySocket;
  let dir: string;
  const prefix = `vigil-stop-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    brokerUrl = await requireBroker();
    notify = await startFakeNotifySocket();
    dir = mkdtempSync(join(tmpdir(), 'vigil-stop-'));
  });
  afterAll(async () => {
    await notify?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SIGTERM: exit 0 within the bound, STOPPING=1, every durable score and every load message kept', async () => {
    mkdirSync(join(dir, 'models'));
    // Huge thresholds: scores only, no episodes; windows of 60 × 20 ms, a score every 10 samples.
    const model = await pcaPackage({
      name: 'stop-pca',
      version: '1.0.0',
      tags: PUMP1_TAGS,
      samplePeriodMs: 20,
      warn: 1e9,
      manifest: { missingData: { maxFilledShare: 0.95, maxBadShare: 0.5, forwardFillMaxAgeMs: 2000 }, normalization: { mean: [100, 5, 50, 1], std: [10, 1, 5, 0.5] } },
    });
    writeFileSync(join(dir, 'models', 'stop-pca-1.0.0.vmodel'), model);
    const json = '{ value: v, timestamp: t }';
    writeFileSync(
      join(dir, 'agent.yaml'),
      [
        'agent: { id: stop-gw, dataDir: ./state }',
        'http: { port: 0 }',
        'models: { dir: ./models, lateToleranceMs: 500 }',
        'sources:',
        `  - { name: broker, type: mqtt, url: "${brokerUrl}", clientId: "${prefix}" }`,
        'tags:',
        `  - { name: load, source: broker, topic: "${prefix}/load", json: ${json} }`,
        ...PUMP1_TAGS.map((tag, i) => `  - { name: ${tag}, source: broker, topic: "${prefix}/${PUMP1_SIGNALS[i]}", json: ${json} }`),
      ].join('\n') + '\n',
    );
    const startedAt = Date.now();
    const run = () => spawnVigil(['agent', '--config', join(dir, 'agent.yaml')], { NOTIFY_SOCKET: notify.address });
    const metric = async (url: string, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? 0);
    const durableScores = (url: string) => metric(url, 'vigil_outbox_durable_seq\\{stream="scores"\\}');

    let agent: VigilProcess | undefined = run();
    const publisher = await mqtt.connectAsync(brokerUrl, { clientId: `${prefix}-pub` });
    let seq = 0;
    const published: Array<Promise<unknown>> = [];
    const timers: NodeJS.Timeout[] = [];
    try {
      const url = String((await agent.waitForLog('agent running')).http);
      // ~1500 load messages and 200 model samples a second, QoS 1.
      timers.push(
        setInterval(() => {
          for (let i = 0; i < 15; i++) published.push(publisher.publishAsync(`${prefix}/load`, JSON.stringify({ v: ++seq, t: Date.now() }), { qos: 1 }));
        }, 10),
        setInterval(() => {
          const t = Date.now();
          PUMP1_SIGNALS.forEach((signal, i) => published.push(publisher.publishAsync(`${prefix}/${signal}`, JSON.stringify({ v: [100, 5, 50, 1][i]! + Math.random(), t }), { qos: 1 })));
        }, 20),
      );
      await eventually(async () => ((await durableScores(url)) >= 5 ? true : undefined), 'scores to be durable', 30_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${agent?.stdout()}`);
      });
      await new Promise((r) => setTimeout(r, 500));

      // Under load: what the agent reports durable, then SIGTERM, then the publisher stops.
      const reported = await durableScores(url);
      const stopAt = Date.now();
      agent.child.kill('SIGTERM');
      for (const timer of timers) clearInterval(timer);
      await Promise.all(published);
      const lastSeq = seq;
      expect(await agent.exited).toBe(0);
      const stopMs = Date.now() - stopAt;
      expect(stopMs).toBeLessThan(GRACEFUL_STOP_MS);
      // 'exit' may come before the last output is read.
      if (!agent.child.stdout.closed) await once(agent.child.stdout, 'close');
      expect(agent.stdout()).toContain('"msg":"agent stopped"');
      expect(agent.stdout()).not.toContain('graceful stop did not finish');
      await notify.waitFor('STOPPING', 5000);

      // Restart: the broker redelivers what the agent had not acknowledged, in order, before one more message.
      agent = run();
      const url2 = String((await agent.waitForLog('agent running')).http);
      const marker = lastSeq + 1;
      await publisher.publishAsync(`${prefix}/load`, JSON.stringify({ v: marker, t: Date.now() }), { qos: 1 });
      await eventually(async () => {
        const tags = ((await (await fetch(`${url2}/tags`)).json()) as { tags: Array<{ tag: string; value: number | null }> }).tags;
        return tags.find((t) => t.tag === 'load')?.value === marker ? true : undefined;
      }, `the load tag to reach ${marker} after the restart`);
      expect(await durableScores(url2)).toBeGreaterThanOrEqual(reported);
      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
      agent = undefined;

      const store = await openAgentStore({ dir: join(dir, 'state', 'store'), quotaBytes: 1e9, historyHours: 24, log: silentLogger() });
      try {
        const scores = store.outbox.pending('scores', 0, reported + 100_000).map((r) => r.seq);
        expect(scores.slice(0, reported)).toEqual(Array.from({ length: reported }, (_, i) => i + 1));
        const values = new Set(store.history.read('load', startedAt - 1000, Date.now() + 1000).values);
        const missing = Array.from({ length: lastSeq }, (_, i) => i + 1).filter((n) => !values.has(n));
        expect(lastSeq).toBeGreaterThan(1000);
        expect(missing).toEqual([]);
      } finally {
        await store.close();
      }
    } finally {
      for (const timer of timers) clearInterval(timer);
      await publisher.endAsync();
      agent?.child.kill('SIGKILL');
    }
  }, 90_000);
});
