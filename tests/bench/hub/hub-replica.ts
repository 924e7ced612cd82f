import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnVigil, type VigilProcess } from '../../helpers/agent-process.js';

/** The storage block of hub.yaml for one set-up. */
export type BenchStorage = { type: 'lmdb' } | { type: 'postgres'; url: string; schema: string };

export interface ReplicaPlan {
  id: string;
  /** Folder holding hub.yaml and the replica's dataDir (./data). */
  dir: string;
  storage: BenchStorage;
}

export interface RunningReplica {
  id: string;
  process: VigilProcess;
  pid: number;
  /** http://127.0.0.1:<port> */
  url: string;
  /** SIGTERM, SIGKILL after 10 s; safe to call twice. */
  stop(): Promise<void>;
  /** The replica's error and warning log lines so far, one per distinct message (the first, with its count), for a failed run's report. */
  errors(): string[];
}

const WARN_LEVEL = 40;

function errorLines(stdout: string): string[] {
  const seen = new Map<string, { first: string; count: number }>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: unknown };
      if ((entry.level ?? 0) < WARN_LEVEL) continue;
      const key = String(entry.msg);
      const known = seen.get(key);
      if (known) known.count++;
      else seen.set(key, { first: `${entry.msg}: ${typeof entry.err === 'string' ? entry.err : JSON.stringify(entry.err)}`.slice(0, 400), count: 1 });
    } catch {
      // A line cut by the process ending.
    }
  }
  return [...seen.values()].map((e) => `${e.count} × ${e.first}`);
}

/** Writes the replica's hub.yaml (127.0.0.1, a free port, its own id and dataDir); returns the file. */
export function writeReplicaConfig(plan: ReplicaPlan): string {
  mkdirSync(plan.dir, { recursive: true });
  const lines = ['hub:', `  id: ${plan.id}`, '  dataDir: ./data', 'http:', '  host: 127.0.0.1', '  port: 0', 'storage:', `  type: ${plan.storage.type}`];
  if (plan.storage.type === 'postgres') lines.push(`  url: ${plan.storage.url}`, `  schema: ${plan.storage.schema}`);
  const file = join(plan.dir, 'hub.yaml');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** Starts a real `vigil hub` on a written configuration and waits for its "hub running" line. */
export async function startReplica(id: string, configFile: string): Promise<RunningReplica> {
  const child = spawnVigil(['hub', '--config', configFile]);
  const stop = async () => {
    if (child.child.exitCode !== null || child.child.signalCode !== null) return;
    child.child.kill('SIGTERM');
    const timer = setTimeout(() => child.child.kill('SIGKILL'), 10_000);
    await child.exited;
    clearTimeout(timer);
  };
  try {
    const running = await child.waitForLog('hub running', 60_000);
    return { id, process: child, pid: child.child.pid!, url: String(running.url), stop, errors: () => errorLines(child.stdout()) };
  } catch (err) {
    child.child.kill('SIGKILL');
    throw err;
  }
}
