import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_NAMESPACE_URI, startOpcuaPlant, type OpcuaPlant } from '../../agent/demo/opcua-plant.js';
import { PCA_ONNX, PUMP1_TAGS, pcaPackage, pump1TagLines } from '../helpers/pca-package.js';
import { requireBroker } from '../helpers/broker.js';
import { eventually, spawnVigil, type VigilProcess } from '../helpers/agent-process.js';

/**
 * The simulated plant changes values every 200 ms on a timer that drifts when
 * the machine is busy (CI runs two test files at once); these end-to-end
 * tests are about deployment and restarts, not data quality, so their models
 * accept windows with many filled or missing cells.
 */
const LENIENT_MISSING_DATA = { maxFilledShare: 0.95, maxBadShare: 0.5, forwardFillMaxAgeMs: 2000 };

interface TagsBody {
  tags: Array<{ tag: string; source: string; value: number | null; quality: string | null; samples: number; lastError: string | null }>;
}

/**
 * The agent as plant IT runs it: `vigil agent --config file` as its own
 * process, reading a real OPC UA server and the machine's Mosquitto, seen
 * through its HTTP endpoints, stopped with SIGTERM.
 */
describe('vigil agent (real process)', () => {
  let plant: OpcuaPlant;
  let dir: string;
  let brokerUrl: string;
  const prefix = `vigil-e2e-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    brokerUrl = await requireBroker();
    plant = await startOpcuaPlant({ port: 0, pumps: 2, updateIntervalMs: 200 });
    dir = mkdtempSync(join(tmpdir(), 'vigil-agent-e2e-'));
  });
  afterAll(async () => {
    await plant?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows OPC UA and MQTT tags live on /tags, is healthy, and stops cleanly on SIGTERM', async () => {
    writeFileSync(
      join(dir, 'agent.yaml'),
      [
        'agent: { id: e2e-gw, dataDir: ./state }',
        'http: { port: 0 }',
        'sources:',
        `  - { name: plc1, type: opcua, endpoint: "${plant.endpoint}", publishingIntervalMs: 200 }`,
        `  - { name: broker, type: mqtt, url: "${brokerUrl}", clientId: "${prefix}" }`,
        'tagFiles: [tags.csv]',
        'tags:',
        `  - { name: "line.{1}.temp", source: broker, topic: "${prefix}/+/temp", json: { value: v, timestamp: t } }`,
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tags.csv'),
      ['name,source,nodeId', `pump1.temperature,plc1,nsu=${DEMO_NAMESPACE_URI};s=Pump1.Temperature`, `pump2.running,plc1,nsu=${DEMO_NAMESPACE_URI};s=Pump2.Running`, `ghost,plc1,nsu=${DEMO_NAMESPACE_URI};s=NoSuchNode`].join('\n'),
    );

    const agent = spawnVigil(['agent', '--config', join(dir, 'agent.yaml')]);
    try {
      const running = await agent.waitForLog('agent running');
      const url = String(running.http);

      const publisher = await mqtt.connectAsync(brokerUrl, { clientId: `${prefix}-pub` });
      const timer = setInterval(() => void publisher.publish(`${prefix}/a7/temp`, JSON.stringify({ v: 21.5, t: Date.now() }), { qos: 1 }), 100);
      let lastSeen = '';
      try {
        const tags = await eventually(async () => {
          const body = (await (await fetch(`${url}/tags`)).json()) as TagsBody;
          lastSeen = JSON.stringify(body.tags);
          const byName = new Map(body.tags.map((t) => [t.tag, t]));
          const live = ['pump1.temperature', 'pump2.running', 'line.a7.temp'].every((n) => (byName.get(n)?.samples ?? 0) > 0);
          return live && byName.get('ghost')?.lastError ? byName : undefined;
        }, 'OPC UA and MQTT tags to be live on /tags').catch((err: Error) => {
          throw new Error(`${err.message}; last /tags: ${lastSeen}\n${agent.stdout()}`);
        });
        expect(tags.get('line.a7.temp')).toMatchObject({ source: 'broker', value: 21.5, quality: 'good' });
        expect(tags.get('pump2.running')).toMatchObject({ source: 'plc1', value: 1, quality: 'good' });
        expect(tags.get('pump1.temperature')?.quality).toBe('good');
        expect(tags.get('ghost')).toMatchObject({ samples: 0 });
        expect(tags.get('ghost')?.lastError).toMatch(/NoSuchNode|BadNodeIdUnknown|unknown/i);
      } finally {
        clearInterval(timer);
        await publisher.endAsync();
      }

      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(200);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/vigil_source_samples_total\{source="plc1",type="opcua"\} [1-9]/);
      expect(metrics).toMatch(/vigil_source_samples_total\{source="broker",type="mqtt"\} [1-9]/);

      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
      expect(agent.stdout()).toContain('"msg":"agent stopped"');
    } finally {
      agent.child.kill('SIGKILL');
    }
  });

  it('vigil check --connect dry-runs every tag against the live servers and prints a table per source', async () => {
    writeFileSync(
      join(dir, 'probe.yaml'),
      [
        'agent: { id: e2e-gw, dataDir: ./state }',
        'sources:',
        `  - { name: plc1, type: opcua, endpoint: "${plant.endpoint}" }`,
        `  - { name: broker, type: mqtt, url: "${brokerUrl}" }`,
        'tags:',
        `  - { name: pump1.temperature, source: plc1, nodeId: "nsu=${DEMO_NAMESPACE_URI};s=Pump1.Temperature" }`,
        `  - { name: ghost, source: plc1, nodeId: "nsu=${DEMO_NAMESPACE_URI};s=NoSuchNode" }`,
        `  - { name: "probe.{1}", source: broker, topic: "${prefix}-probe/+", format: number }`,
      ].join('\n'),
    );
    const publisher = await mqtt.connectAsync(brokerUrl, { clientId: `${prefix}-probe-pub` });
    const timer = setInterval(() => void publisher.publish(`${prefix}-probe/x`, '12.5'), 100);
    try {
      const check = spawnVigil(['check', join(dir, 'probe.yaml'), '--connect', '--listen', '2']);
      expect(await check.exited).toBe(1);
      const out = check.stdout();
      expect(out).toMatch(/pump1\.temperature\s+✔ ok\s+Double, value \d/);
      expect(out).toMatch(/ghost\s+✖ fail\s+.*BadNodeIdUnknown/);
      expect(out).toMatch(/probe\.\{1\}\s+✔ ok\s+\d+ messages, last 12\.5/);
    } finally {
      clearInterval(timer);
      await publisher.endAsync();
    }
  });

  it('scores live windows with a package dropped in its model folder, shadow-scores a candidate, promotes it, and refuses damaged packages', async () => {
    const models = join(dir, 'models');
    mkdirSync(models, { recursive: true });
    // The plant changes values every 200 ms: at least half the 100 ms cells are forward-filled (more when the machine is busy).
    const pkg = (version: string, warn: number) =>
      pcaPackage({ name: 'pump1-pca', version, tags: PUMP1_TAGS, samplePeriodMs: 100, warn, manifest: { missingData: LENIENT_MISSING_DATA, normalization: { mean: [100, 5, 50, 1], std: [10, 1, 5, 0.5] } } });
    /** How a package is meant to be dropped: written under a temporary name, then renamed. */
    const drop = (name: string, bytes: Buffer) => {
      writeFileSync(join(models, `${name}.tmp`), bytes);
      renameSync(join(models, `${name}.tmp`), join(models, name));
    };
    // 1.0.0 never alarms (huge thresholds); 1.1.0 below always does.
    drop('pump1-pca-1.0.0.vmodel', await pkg('1.0.0', 1e9));
    writeFileSync(
      join(dir, 'scoring.yaml'),
      [
        'agent: { id: e2e-scoring, dataDir: ./state-scoring }',
        'http: { port: 0 }',
        'models: { dir: ./models, lateToleranceMs: 300 }',
        'sources:',
        `  - { name: plc1, type: opcua, endpoint: "${plant.endpoint}", publishingIntervalMs: 100 }`,
        'tags:',
        ...pump1TagLines(100),
      ].join('\n'),
    );

    interface ModelsBody {
      models: Array<{ name: string; active: string | null; previous: string | null; lastRefusal: { version: string; reason: string } | null; versions: Array<{ key: string; role: string; scored: number; last: { score: number; level: string; contributions: Record<string, number> } | null }> }>;
    }
    const agent = spawnVigil(['agent', '--config', join(dir, 'scoring.yaml')]);
    try {
      const url = String((await agent.waitForLog('agent running')).http);
      const fetchModels = async () => ((await (await fetch(`${url}/models`)).json()) as ModelsBody).models;
      const first = await eventually(async () => {
        const m = (await fetchModels())[0];
        const v = m?.versions.find((x) => x.role === 'active');
        return v && v.scored > 0 ? { m, v } : undefined;
      }, 'version 1.0.0 to score live windows', 60_000).catch(async (err: Error) => {
        throw new Error(`${err.message}\n/models: ${JSON.stringify(await fetchModels())}\n${agent.stdout()}`);
      });
      expect(first.m).toMatchObject({ name: 'pump1-pca', active: '1.0.0' });
      expect(Number.isFinite(first.v.last?.score)).toBe(true);
      expect(Object.keys(first.v.last?.contributions ?? {})).toHaveLength(4);

      // A candidate in shadow/ scores the same windows beside the active version.
      mkdirSync(join(models, 'shadow'), { recursive: true });
      // Thresholds of 0: every window of 1.1.0 is an alarm, so an episode opens once it takes over.
      const candidate = await pkg('1.1.0', 0);
      drop('shadow/pump1-pca-1.1.0.vmodel', candidate);
      const shadowing = await eventually(async () => {
        const m = (await fetchModels())[0];
        const v = m?.versions.find((x) => x.role === 'shadow') as { shadowScored?: number } | undefined;
        return m?.active === '1.0.0' && (v?.shadowScored ?? 0) > 0 ? m : undefined;
      }, 'version 1.1.0 to score in shadow', 60_000);
      expect(shadowing).toMatchObject({ shadow: '1.1.0' });

      // Moving it up into the model folder promotes it at the next window boundary.
      renameSync(join(models, 'shadow', 'pump1-pca-1.1.0.vmodel'), join(models, 'pump1-pca-1.1.0.vmodel'));
      await eventually(async () => {
        const m = (await fetchModels())[0];
        return m?.active === '1.1.0' && m.previous === '1.0.0' && (m.versions.find((x) => x.role === 'active')?.scored ?? 0) > 0 ? m : undefined;
      }, 'version 1.1.0 to take over', 60_000);

      // Damaged inside the ONNX bytes: the checksum no longer matches.
      const damaged = await pkg('1.2.0', 2);
      const at = damaged.indexOf(PCA_ONNX.subarray(200, 216)) + 3;
      damaged[at] = (damaged[at] ?? 0) ^ 0xff;
      drop('pump1-pca-1.2.0.vmodel', damaged);
      // Not a package at all: refused without knowing which model it was meant to be.
      drop('not-a-model.vmodel', Buffer.from('this is not a tar archive'));
      const refused = await eventually(async () => {
        const body = (await (await fetch(`${url}/models`)).json()) as ModelsBody & { refusedPackages: Array<{ file: string; reason: string }> };
        return body.models[0]?.lastRefusal && body.refusedPackages.length === 2 ? body : undefined;
      }, 'the damaged packages to be refused', 20_000);
      expect(refused.models[0]?.active).toBe('1.1.0');
      expect(refused.models[0]?.lastRefusal).toMatchObject({ version: '1.2.0', reason: expect.stringMatching(/VIGIL_MODEL_CHECKSUM_MISMATCH/) });
      expect(refused.refusedPackages.map((p) => p.file.split('/').pop()).sort()).toEqual(['not-a-model.vmodel', 'pump1-pca-1.2.0.vmodel']);
      expect(refused.refusedPackages.find((p) => p.file.endsWith('not-a-model.vmodel'))?.reason).toMatch(/VIGIL_MODEL_PACKAGE_INVALID/);

      // Every window 1.1.0 scores is an alarm: an episode opens and is committed to the outbox.
      const episodes = await eventually(async () => {
        const body = (await (await fetch(`${url}/episodes`)).json()) as { open: Array<{ id: string; model: string; version: string; state: string; topTags: unknown[] }> };
        return body.open.length > 0 ? body : undefined;
      }, 'an open episode on /episodes', 20_000);
      expect(episodes.open[0]).toMatchObject({ model: 'pump1-pca', version: '1.1.0', state: 'open' });
      expect(episodes.open[0]?.id).toMatch(/^e2e-scoring:pump1-pca:\d+$/);
      expect(episodes.open[0]?.topTags.length).toBeGreaterThan(0);
      const metrics = await eventually(async () => {
        const text = await (await fetch(`${url}/metrics`)).text();
        return /vigil_outbox_durable_seq\{stream="episodes"\} [1-9]/.test(text) ? text : undefined;
      }, 'the episode to be committed to the outbox', 20_000);
      expect(metrics).toMatch(/vigil_model_windows_total\{model="pump1-pca",version="1.1.0",outcome="scored"\} [1-9]/);
      expect(metrics).toMatch(/vigil_outbox_durable_seq\{stream="scores"\} [1-9]/);
      // Activations, the shadow start and the refusals are events for the hub.
      expect(metrics).toMatch(/vigil_outbox_durable_seq\{stream="events"\} [1-9]/);
      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
    } finally {
      agent.child.kill('SIGKILL');
    }
  });

  it('restores its model versions (active and previous) from the store after a restart, without the model folder', async () => {
    const models = join(dir, 'models-restore');
    mkdirSync(models, { recursive: true });
    for (const version of ['1.0.0', '1.1.0']) {
      const bytes = await pcaPackage({ name: 'restore-pca', version, tags: PUMP1_TAGS, samplePeriodMs: 100, hop: 5, warn: 1e9, manifest: { missingData: LENIENT_MISSING_DATA } });
      writeFileSync(join(models, `restore-pca-${version}.vmodel`), bytes);
    }
    writeFileSync(
      join(dir, 'restore.yaml'),
      [
        'agent: { id: e2e-restore, dataDir: ./state-restore }',
        'http: { port: 0 }',
        'models: { dir: ./models-restore, lateToleranceMs: 300 }',
        'sources:',
        `  - { name: plc1, type: opcua, endpoint: "${plant.endpoint}", publishingIntervalMs: 100 }`,
        'tags:',
        ...pump1TagLines(100),
      ].join('\n'),
    );
    type Model = { active: string | null; previous: string | null; versions: Array<{ role: string; scored: number }> };
    const settled = async (url: string, agent: VigilProcess) => {
      let last = '';
      return eventually(async () => {
        const body = await (await fetch(`${url}/models`)).text();
        last = body;
        const m = (JSON.parse(body) as { models: Model[] }).models[0];
        return m?.active === '1.1.0' && m.previous === '1.0.0' && (m.versions.find((v) => v.role === 'active')?.scored ?? 0) > 0 ? m : undefined;
      }, '1.1.0 active with 1.0.0 as previous, scoring', 60_000).catch((err: Error) => {
        throw new Error(`${err.message}\n/models: ${last}\n${agent.stdout().slice(-4000)}`);
      });
    };

    const first = spawnVigil(['agent', '--config', join(dir, 'restore.yaml')]);
    try {
      await settled(String((await first.waitForLog('agent running')).http), first);
      first.child.kill('SIGTERM');
      expect(await first.exited).toBe(0);
    } finally {
      first.child.kill('SIGKILL');
    }

    rmSync(models, { recursive: true, force: true });
    const second = spawnVigil(['agent', '--config', join(dir, 'restore.yaml')]);
    try {
      await settled(String((await second.waitForLog('agent running')).http), second);
      expect(second.stdout()).toContain('model restored from the store');
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      second.child.kill('SIGKILL');
    }
  });

  it('moves a damaged store aside, starts fresh, raises an alarm on /healthz and keeps collecting', async () => {
    const state = join(dir, 'state-damaged');
    mkdirSync(join(state, 'store'), { recursive: true });
    // Garbage where LMDB expects its meta pages.
    writeFileSync(join(state, 'store', 'data.mdb'), Buffer.alloc(64 * 1024, 0x5a));
    writeFileSync(
      join(dir, 'damaged.yaml'),
      [
        'agent: { id: e2e-damaged, dataDir: ./state-damaged }',
        'http: { port: 0 }',
        'sources:',
        `  - { name: plc1, type: opcua, endpoint: "${plant.endpoint}", publishingIntervalMs: 200 }`,
        'tags:',
        `  - { name: pump1.temperature, source: plc1, nodeId: "nsu=${DEMO_NAMESPACE_URI};s=Pump1.Temperature" }`,
      ].join('\n'),
    );
    const agent = spawnVigil(['agent', '--config', join(dir, 'damaged.yaml')]);
    try {
      const url = String((await agent.waitForLog('agent running')).http);
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(503);
      const body = (await health.json()) as { reasons: string[] };
      expect(body.reasons.join(' ')).toMatch(/store-quarantine/);
      expect(agent.stdout()).toContain('VIGIL_STORE_QUARANTINED');
      // Still collecting: tags live, and the quarantine is an event for the hub.
      await eventually(async () => {
        const tags = (await (await fetch(`${url}/tags`)).json()) as TagsBody;
        return (tags.tags[0]?.samples ?? 0) > 0 ? true : undefined;
      }, 'tags to be live after the quarantine');
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/vigil_store_errors_total\{kind="quarantined"\} 1/);
      expect(metrics).toMatch(/vigil_outbox_durable_seq\{stream="events"\} [1-9]/);
      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
    } finally {
      agent.child.kill('SIGKILL');
    }
  });

  it('refuses an invalid configuration with file, line and what to write, and exits 1', async () => {
    writeFileSync(join(dir, 'bad.yaml'), ['agent: { id: e2e-gw }', 'sources:', '  - name: plc1', '    type: opcua', '    endpont: opc.tcp://x:4840'].join('\n'));
    const agent = spawnVigil(['agent', '--config', join(dir, 'bad.yaml')]);
    expect(await agent.exited).toBe(1);
    expect(agent.stderr()).toMatch(/bad\.yaml:5:5/);
    expect(agent.stderr()).toContain('did you mean "endpoint"');
  });
});

describe('vigil demo (real process)', () => {
  it('runs the simulated plant and an agent; every demo tag is live', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-demo-'));
    const demo = spawnVigil(['demo', '--port', '0', '--data', dataDir, '--duration', '25']);
    try {
      const running = await demo.waitForLog('agent running');
      const url = String(running.http);
      const body = await eventually(async () => {
        const b = (await (await fetch(`${url}/tags`)).json()) as TagsBody;
        const opcua = b.tags.filter((t) => t.source === 'plc1');
        const mqttTags = b.tags.filter((t) => t.source === 'plant');
        const sparkplug = b.tags.filter((t) => t.tag.startsWith('compressor1.'));
        return opcua.length >= 18 && opcua.every((t) => t.samples > 0) && mqttTags.length >= 16 && sparkplug.length === 3 ? b : undefined;
      }, 'all demo tags to be live');
      expect(body.tags.every((t) => t.quality === 'good')).toBe(true);
      expect(demo.stdout()).toContain('/tags?format=text');
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      demo.child.kill('SIGINT');
      expect(await demo.exited).toBe(0);
    } finally {
      demo.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
