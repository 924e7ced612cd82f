import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { WindowReport } from './child-meter.js';
import { sleep } from './child-meter.js';
import type { AgentOpcuaCheck } from './opcua-agent-client.js';
import { VERIFY_MS, type MissedReport } from './missed-changes.js';
import { RoleProcess, type RoleOptions } from './role-process.js';
import type { Subject } from './mqtt-phase.js';

/** The OPC UA phase: one server process, then the bare client and the agent against it, one after the other. */

export interface OpcuaRun {
  subject: Subject;
  /** Seconds from spawning the client until every item had delivered once. */
  setupSeconds: number;
  subscriptions: number;
  /** Value changes skipped, counted per item from source timestamps after the window. */
  missed: MissedReport;
  client: WindowReport;
  server: WindowReport;
  check: AgentOpcuaCheck | undefined;
}

export interface OpcuaTiming {
  settleMs: number;
  windowMs: number;
}

export interface OpcuaPhase {
  items: number;
  serverStartSeconds: number;
  runs: OpcuaRun[];
}

export async function runOpcuaPhase(
  items: number,
  subjects: Subject[],
  timing: OpcuaTiming,
  roleOptions: (subject: Subject) => RoleOptions = () => ({}),
  /** Overrides the agent's maxItemsPerSubscription (default: the schema's default). */
  agentItemsPerSubscription?: number,
): Promise<OpcuaPhase> {
  const t0 = performance.now();
  const server = new RoleProcess('opcua-server', [String(items)]);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-opcua-'));
  try {
    const ready = await server.waitFor<{ endpoint: string; namespaceUri: string; nodes: string[] }>('ready', 120_000);
    const serverStartSeconds = (performance.now() - t0) / 1000;
    const nodesFile = join(dir, 'nodes.json');
    writeFileSync(nodesFile, JSON.stringify(ready.nodes));
    const runs: OpcuaRun[] = [];
    for (const subject of subjects) {
      const started = performance.now();
      const args = [ready.endpoint, ready.namespaceUri, nodesFile];
      if (subject === 'agent' && agentItemsPerSubscription !== undefined) args.push(String(agentItemsPerSubscription));
      const client = new RoleProcess(subject === 'bare' ? 'opcua-bare-client' : 'opcua-agent-client', args, roleOptions(subject));
      try {
        const info = await client.waitFor<{ subscriptions?: number }>('ready', 150_000);
        const setupSeconds = (performance.now() - started) / 1000;
        await sleep(timing.settleMs);
        await Promise.all([client.request('begin'), server.request('begin')]);
        await sleep(timing.windowMs);
        const [clientReport, serverReport] = await Promise.all([client.request<WindowReport>('end'), server.request<WindowReport>('end')]);
        const missed = await client.request<MissedReport>('verify', VERIFY_MS + 30_000);
        const check = await client.stop<AgentOpcuaCheck | undefined>(60_000);
        runs.push({ subject, missed, setupSeconds, subscriptions: info.subscriptions ?? 1, client: clientReport, server: serverReport, check: subject === 'agent' ? check : undefined });
      } finally {
        client.kill();
      }
    }
    await server.stop(60_000);
    return { items, serverStartSeconds, runs };
  } finally {
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
