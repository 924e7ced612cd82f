import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pcaPackage } from '../helpers/pca-package.js';
import { openAgentStore } from '../../agent/store/open-store.js';
import { silentLogger } from '../../shared/logger.js';
import { requireBroker } from '../helpers/broker.js';
import { eventually, spawnVigil, type VigilProcess } from '../helpers/agent-process.js';

/**
 * RELIABILITY.md fault matrix row 1: `kill -9` of the agent during steady
 * load, repeated. The agent runs as its own process, fed by a steady MQTT
 * source (QoS 1, persistent session) and scoring two models at 100 windows/s
 * each. Before every kill the test reads the highest committed (durable)
 * sequence number from /metrics; afterwards every record up to each of those
 * must be in the store exactly once and the numbering must have no gaps.
 *
 * VIGIL_CRASH_KILLS sets the number of kills (npm test: 4; npm run
 * test:faults: 25).
 */
const KILLS = Number(process.env.VIGIL_CRASH_KILLS ?? 4);
const PERIOD_MS = 10;
const TAGS = ['t0', 't1', 't2', 't3'];

describe('kill -9 of the agent under steady load, repeated', () => {
  let dir: string;
  let brokerUrl: string;
  let publisher: mqtt.MqttClient;
  let timer: NodeJS.Timeout | undefined;
  const prefix = `vigil-crash-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    brokerUrl = await requireBroker();
    dir = mkdtempSync(join(tmpdir(), 'vigil-crash-'));
    const models = join(dir, 'models');
    mkdirSync(models);
    for (const name of ['crash-a', 'crash-b']) {
      writeFileSync(join(models, `${name}.vmodel`), await pcaPackage({ name, version: '1.0.0', tags: TAGS.map((t) => `crash.${t}`), samplePeriodMs: PERIOD_MS, hop: 1 }));
    }
    writeFileSync(
      join(dir, 'agent.yaml'),
      [
        'agent: { id: crash-gw, dataDir: ./state }',
        'http: { port: 0 }',
        'models: { dir: ./models, lateToleranceMs: 50 }',
        'sources:',
        `  - { name: broker, type: mqtt, url: "${brokerUrl}", clientId: "${prefix}" }`,
        'tags:',
        `  - { name: "crash.{1}", source: broker, topic: "${prefix}/+", json: { value: v, timestamp: t } }`,
      ].join('\n'),
    );
    // A steady source: every 20 ms, two samples 10 ms apart per tag, event-timed.
    publisher = await mqtt.connectAsync(brokerUrl, { clientId: `${prefix}-pub` });
    let t = Math.floor(Date.now() / PERIOD_MS) * PERIOD_MS;
    timer = setInterval(() => {
      for (const tag of TAGS) {
        const samples = [0, 1].map((i) => ({ v: Math.sin((t + i * PERIOD_MS) / 900 + tag.length), t: t + i * PERIOD_MS + 1 }));
        void publisher.publish(`${prefix}/${tag}`, JSON.stringify(samples), { qos: 1 });
      }
      t += 2 * PERIOD_MS;
    }, 20);
  });

  afterAll(async () => {
    clearInterval(timer);
    await publisher?.endAsync();
    rmSync(dir, { recursive: true, force: true });
  });

  async function durableSeq(url: string): Promise<number> {
    const text = await (await fetch(`${url}/metrics`)).text();
    return Number(/vigil_outbox_durable_seq\{stream="scores"\} (\d+)/.exec(text)?.[1] ?? 0);
  }

  it(`loses no committed record and leaves no gap across ${KILLS} SIGKILLs`, async () => {
    const committedBeforeKill: number[] = [];
    let agent: VigilProcess | undefined;
    try {
      for (let kill = 0; kill < KILLS; kill++) {
        agent = spawnVigil(['agent', '--config', join(dir, 'agent.yaml')]);
        const url = String((await agent.waitForLog('agent running', 60_000)).http);
        const before = committedBeforeKill.at(-1) ?? 0;
        // Wait until this run has committed records of its own, then for a random moment.
        await eventually(async () => ((await durableSeq(url)) > before ? true : undefined), 'scores to be committed', 30_000);
        const deadline = Date.now() + 300 + Math.random() * 1500;
        let seen = 0;
        while (Date.now() < deadline) {
          seen = Math.max(seen, await durableSeq(url).catch(() => seen));
          await new Promise((r) => setTimeout(r, 20));
        }
        agent.child.kill('SIGKILL');
        await agent.exited;
        committedBeforeKill.push(seen);
      }
      // A last, graceful run: it must resume numbering after what is on disk.
      agent = spawnVigil(['agent', '--config', join(dir, 'agent.yaml')]);
      const url = String((await agent.waitForLog('agent running', 60_000)).http);
      const last = committedBeforeKill.at(-1) ?? 0;
      await eventually(async () => ((await durableSeq(url)) > last ? true : undefined), 'scores after the last restart', 30_000);
      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
    } finally {
      agent?.child.kill('SIGKILL');
    }

    const store = await openAgentStore({ dir: join(dir, 'state', 'store'), quotaBytes: 1e9, historyHours: 1, log: silentLogger() });
    try {
      const records = store.outbox.pending('scores', 0, 10_000_000);
      const seqs = records.map((r) => r.seq);
      expect(seqs[0]).toBe(1);
      // Gap-free and each number once.
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1);
      // Every record committed before a kill survived it.
      expect(seqs.at(-1)!).toBeGreaterThanOrEqual(Math.max(...committedBeforeKill));
      expect(committedBeforeKill.every((c, i) => i === 0 || c > committedBeforeKill[i - 1]!)).toBe(true);
      // They are real results of both models.
      const models = new Set(records.map((r) => (r.body as { model: string }).model));
      expect([...models].sort()).toEqual(['crash-a', 'crash-b']);
      console.info(`crash loop: ${KILLS} kills, committed before each: ${committedBeforeKill.join(', ')}; ${seqs.length} records on disk, seq 1..${seqs.at(-1)}`);
      const stats = store.outbox.stats().scores;
      expect(stats.next).toBe(seqs.at(-1)! + 1);
    } finally {
      await store.close();
    }
  }, 60_000 + KILLS * 20_000);
});
