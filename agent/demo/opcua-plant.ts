import '../sources/opcua/node-opcua-logs.js';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCodes,
  Variant,
  nodesets,
  type Namespace,
  type StatusCode,
  type UAObject,
  type UAVariable,
} from 'node-opcua';

/**
 * A simulated pump station served by a real, in-process node-opcua server. It
 * backs `vigil demo`, the OPC UA integration tests and the ingestion benchmark.
 *
 * Node ids are strings in the plant namespace (default `urn:vigil:demo:pumps`):
 * `Pump1.Temperature`, `Pump1.Running`, …, `Diag.*` for quality and type
 * cases, and `Bulk.00001`… for the benchmark.
 */

export type PlantSecurityMode = 'None' | 'Sign' | 'SignAndEncrypt';

export interface OpcuaPlantOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Number of pumps (Pump1..N). Default 3. */
  pumps?: number;
  namespaceUri?: string;
  /** Namespaces registered before the plant namespace, to shift its index (restart tests). */
  extraNamespacesFirst?: string[];
  /** Endpoint security modes offered. Default ['None']. Sign modes offer Basic256Sha256, Aes128_Sha256_RsaOaep and Aes256_Sha256_RsaPss. */
  securityModes?: PlantSecurityMode[];
  /** Accepted users; when given, anonymous sessions are refused unless allowAnonymous is true. */
  users?: Array<{ username: string; password: string }>;
  allowAnonymous?: boolean;
  /**
   * PEM or DER files of X.509 user certificates the server trusts. When given,
   * every other user certificate is refused (and saved under
   * `<pkiDir>/users/rejected/`); without it any user certificate is accepted.
   */
  trustedUserCertificates?: string[];
  /** The server's PKI folder; keep it across restarts so the server keeps its certificate. Default: a temp folder removed on stop. */
  pkiDir?: string;
  /** Extra Double variables Bulk.00001…, all updated by one timer (benchmark). Default 0. */
  extraVariables?: number;
  /** How often values change, in milliseconds. Default 1000. */
  updateIntervalMs?: number;
  /** Pumps stop and restart at random (about every 500 updates), as real ones do; the demo turns this on. Default false: tests get steady data. */
  randomStops?: boolean;
}

export interface OpcuaPlant {
  endpoint: string;
  port: number;
  namespaceUri: string;
  /** Index of the plant namespace in this run of the server. */
  namespaceIndex: number;
  /** Node id strings (without namespace) of every numeric variable the plant serves. */
  variables: string[];
  /**
   * Makes pump `pump` (1-based) cavitate for `durationMs`: flow and pressure
   * drop, vibration rises. The demo injects it so anomaly models have
   * something to find.
   */
  injectFault(pump: number, durationMs: number): void;
  /** Turns the pumps' random stops (see OpcuaPlantOptions.randomStops) on or off while the plant runs. */
  setRandomStops(on: boolean): void;
  stop(): Promise<void>;
}

export const DEMO_NAMESPACE_URI = 'urn:vigil:demo:pumps';
export const PUMP_SIGNALS = ['Temperature', 'Pressure', 'FlowRate', 'Vibration', 'MotorCurrent', 'Running'] as const;

/** Asks the OS for a free port (node-opcua wants a concrete one to build its endpoint URLs). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

interface PumpState {
  speed: number; // 0..1 share of nominal speed
  temperature: number;
  vibrationPhase: number;
  running: boolean;
  /** Cavitating until this time (ms since the epoch); 0 when healthy. */
  faultUntil: number;
  vars: Record<(typeof PUMP_SIGNALS)[number], UAVariable>;
}

function gaussian(): number {
  return (Math.random() + Math.random() + Math.random() - 1.5) * 1.15;
}

function addDouble(ns: Namespace, parent: UAObject, id: string, name: string, initial: number): UAVariable {
  return ns.addVariable({
    componentOf: parent,
    browseName: name,
    nodeId: `s=${id}`,
    dataType: 'Double',
    minimumSamplingInterval: 0,
    value: new Variant({ dataType: DataType.Double, value: initial }),
  });
}

function buildPump(ns: Namespace, folder: UAObject, index: number): PumpState {
  const name = `Pump${index}`;
  const pump = ns.addObject({ organizedBy: folder, browseName: name, nodeId: `s=${name}` });
  const vars = {} as PumpState['vars'];
  for (const signal of PUMP_SIGNALS) {
    vars[signal] =
      signal === 'Running'
        ? ns.addVariable({
            componentOf: pump,
            browseName: signal,
            nodeId: `s=${name}.${signal}`,
            dataType: 'Boolean',
            minimumSamplingInterval: 0,
            value: new Variant({ dataType: DataType.Boolean, value: true }),
          })
        : addDouble(ns, pump, `${name}.${signal}`, signal, 0);
  }
  return { speed: 0.8 + 0.05 * index, temperature: 45 + index, vibrationPhase: index, running: true, faultUntil: 0, vars };
}

/** One step of a pump's physics: flow, pressure and current follow speed; temperature lags. */
function stepPump(p: PumpState, now: Date, randomStops: boolean): void {
  const cavitating = p.faultUntil > now.getTime();
  // A cavitating pump is kept running: a stopped pump shows no cavitation.
  if (cavitating) p.running = true;
  else if (randomStops && Math.random() < 0.002) p.running = !p.running;
  const target = p.running ? 0.85 + 0.1 * Math.sin(now.getTime() / 60_000) : 0;
  p.speed += (target - p.speed) * 0.2 + (p.running ? 0.01 * gaussian() : 0);
  p.speed = Math.max(0, p.speed);
  p.temperature += ((p.running ? 40 + 25 * p.speed : 25) - p.temperature) * 0.02 + 0.05 * gaussian();
  p.vibrationPhase += 0.3;
  let flow = 120 * p.speed + 0.8 * gaussian();
  let pressure = 1 + 5.5 * p.speed * p.speed + 0.05 * gaussian();
  const current = p.running ? 8 + 30 * p.speed ** 3 + 0.3 * gaussian() : 0;
  // At standstill an accelerometer still shows its noise floor: the value keeps changing, so OPC UA keeps reporting it.
  let vibration = p.running ? 1.2 + 0.4 * Math.sin(p.vibrationPhase) + 0.1 * gaussian() + (Math.random() < 0.01 ? 2 : 0) : 0.02 + 0.005 * Math.abs(gaussian());
  if (cavitating) {
    // Vapour bubbles: less flow and head, strong broadband vibration.
    flow *= 0.55;
    pressure *= 0.6;
    vibration += 6 + 1.5 * Math.abs(gaussian());
  }
  const set = (v: UAVariable, value: number) => v.setValueFromSource({ dataType: DataType.Double, value }, StatusCodes.Good, now);
  set(p.vars.Temperature, p.temperature);
  set(p.vars.Pressure, pressure);
  set(p.vars.FlowRate, flow);
  set(p.vars.Vibration, vibration);
  set(p.vars.MotorCurrent, current);
  p.vars.Running.setValueFromSource({ dataType: DataType.Boolean, value: p.running }, StatusCodes.Good, now);
}

/** Variables whose status or type exercise the agent's quality and type handling. */
function buildDiagnostics(ns: Namespace, folder: UAObject): { tick(now: Date): void } {
  const diag = ns.addObject({ organizedBy: folder, browseName: 'Diag', nodeId: 's=Diag' });
  const uncertain = addDouble(ns, diag, 'Diag.Uncertain', 'Uncertain', 0);
  const bad = addDouble(ns, diag, 'Diag.Bad', 'Bad', 0);
  const text = ns.addVariable({
    componentOf: diag,
    browseName: 'Text',
    nodeId: 's=Diag.Text',
    dataType: 'String',
    minimumSamplingInterval: 0,
    value: new Variant({ dataType: DataType.String, value: 'hello' }),
  });
  const counter = ns.addVariable({
    componentOf: diag,
    browseName: 'Counter',
    nodeId: 's=Diag.Counter',
    dataType: 'Int32',
    minimumSamplingInterval: 0,
    value: new Variant({ dataType: DataType.Int32, value: 0 }),
  });
  let n = 0;
  return {
    tick(now) {
      n += 1;
      const status = (code: StatusCode) => code;
      uncertain.setValueFromSource({ dataType: DataType.Double, value: n }, status(StatusCodes.UncertainLastUsableValue), now);
      bad.setValueFromSource({ dataType: DataType.Double, value: n }, status(StatusCodes.BadSensorFailure), now);
      text.setValueFromSource({ dataType: DataType.String, value: `text ${n}` }, StatusCodes.Good, now);
      counter.setValueFromSource({ dataType: DataType.Int32, value: n }, StatusCodes.Good, now);
    },
  };
}

function derCertificate(raw: Buffer): Buffer {
  return raw.includes('-----BEGIN') ? new X509Certificate(raw).raw : raw;
}

const SECURE_POLICIES = [SecurityPolicy.Basic256Sha256, SecurityPolicy.Aes128_Sha256_RsaOaep, SecurityPolicy.Aes256_Sha256_RsaPss];

export async function startOpcuaPlant(opts: OpcuaPlantOptions): Promise<OpcuaPlant> {
  const port = opts.port || (await freePort());
  const namespaceUri = opts.namespaceUri ?? DEMO_NAMESPACE_URI;
  const ownPki = !opts.pkiDir;
  const pkiDir = opts.pkiDir ?? mkdtempSync(join(tmpdir(), 'vigil-plant-pki-'));
  const modes = opts.securityModes ?? ['None'];

  // A demo/test server trusts every client certificate; the agent side is the one under test.
  const serverCertificateManager = new OPCUACertificateManager({
    rootFolder: join(pkiDir, 'server'),
    automaticallyAcceptUnknownCertificate: true,
    disableFileWatchers: true,
  });
  const trustedUsers = opts.trustedUserCertificates;
  const userCertificateManager = new OPCUACertificateManager({
    rootFolder: join(pkiDir, 'users'),
    automaticallyAcceptUnknownCertificate: !trustedUsers,
    disableFileWatchers: true,
  });
  if (trustedUsers) {
    await userCertificateManager.initialize();
    for (const file of trustedUsers) await userCertificateManager.trustCertificate(derCertificate(readFileSync(file)));
  }
  const users = opts.users ?? [];
  const server = new OPCUAServer({
    port,
    hostname: '127.0.0.1',
    alternateHostname: ['localhost'],
    nodeset_filename: [nodesets.standard],
    serverCertificateManager,
    userCertificateManager,
    securityModes: modes.map((m) => MessageSecurityMode[m]),
    securityPolicies: modes.some((m) => m !== 'None') ? [...(modes.includes('None') ? [SecurityPolicy.None] : []), ...SECURE_POLICIES] : [SecurityPolicy.None],
    allowAnonymous: opts.allowAnonymous ?? users.length === 0,
    userManager: { isValidUser: (username: string, password: string) => users.some((u) => u.username === username && u.password === password) },
    buildInfo: { productName: 'Vigil demo pump station', manufacturerName: 'Vigil' },
    serverInfo: { applicationUri: `urn:vigil:demo:plant:${port}`, productUri: 'urn:vigil:demo:plant' },
  });
  await server.initialize();

  const addressSpace = server.engine.addressSpace;
  if (!addressSpace) throw new Error('OPC UA plant: address space not created');
  for (const uri of opts.extraNamespacesFirst ?? []) addressSpace.registerNamespace(uri);
  const ns = addressSpace.registerNamespace(namespaceUri);
  const folder = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: 'PumpStation', nodeId: 's=PumpStation' });

  const pumps = Array.from({ length: opts.pumps ?? 3 }, (_, i) => buildPump(ns, folder, i + 1));
  const diagnostics = buildDiagnostics(ns, folder);
  const bulk: UAVariable[] = [];
  const extra = opts.extraVariables ?? 0;
  if (extra > 0) {
    const bulkFolder = ns.addObject({ organizedBy: folder, browseName: 'Bulk', nodeId: 's=Bulk' });
    const width = String(extra).length;
    for (let i = 1; i <= extra; i++) {
      const id = `Bulk.${String(i).padStart(Math.max(5, width), '0')}`;
      bulk.push(addDouble(ns, bulkFolder, id, id.slice(5), 0));
    }
  }

  let tickNo = 0;
  let randomStops = opts.randomStops ?? false;
  const tick = () => {
    const now = new Date();
    tickNo += 1;
    for (const p of pumps) stepPump(p, now, randomStops);
    diagnostics.tick(now);
    // One variant object per tick would alias across variables; a plain
    // object literal per variable is cheap and lets node-opcua copy it.
    for (let i = 0; i < bulk.length; i++) {
      bulk[i]!.setValueFromSource({ dataType: DataType.Double, value: Math.sin((tickNo + i) / 10) * 100 + i }, StatusCodes.Good, now);
    }
  };
  tick();
  const timer = setInterval(tick, opts.updateIntervalMs ?? 1000);
  timer.unref();

  await server.start();
  const endpoint = `opc.tcp://127.0.0.1:${port}`;
  const variables = [
    ...pumps.flatMap((_, i) => PUMP_SIGNALS.map((s) => `Pump${i + 1}.${s}`)),
    'Diag.Uncertain',
    'Diag.Bad',
    'Diag.Counter',
    ...bulk.map((v) => v.nodeId.value as string),
  ];

  let stopped = false;
  return {
    endpoint,
    port,
    namespaceUri,
    namespaceIndex: ns.index,
    variables,
    injectFault(pump, durationMs) {
      const state = pumps[pump - 1];
      if (!state) throw new Error(`OPC UA plant: there is no pump ${pump}`);
      state.faultUntil = Date.now() + durationMs;
    },
    setRandomStops(on) {
      randomStops = on;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await server.shutdown(0);
      await serverCertificateManager.dispose();
      await userCertificateManager.dispose();
      if (ownPki) rmSync(pkiDir, { recursive: true, force: true });
    },
  };
}
