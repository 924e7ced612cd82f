import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { Sample } from '../../shared/sample.js';
import { OpcuaSourceSchema, OpcuaTagSchema, type OpcuaSourceConfig, type OpcuaTagConfig } from '../../agent/config/schema.js';
import type { SourceContext } from '../../agent/sources/source.js';

/**
 * A TCP proxy between the agent and the OPC UA server that can be "frozen":
 * sockets stay open but no byte gets through, like a half-open link behind a
 * dead switch. This is what a "connected but silent" subscription looks like
 * from the client.
 */
export interface FreezableProxy {
  port: number;
  endpoint: string;
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

export async function startFreezableProxy(targetPort: number): Promise<FreezableProxy> {
  let frozen = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((downstream) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(downstream).add(upstream);
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (chunk) => {
        if (!frozen) to.write(chunk);
      });
    forward(downstream, upstream);
    forward(upstream, downstream);
    const end = () => {
      downstream.destroy();
      upstream.destroy();
    };
    for (const s of [downstream, upstream]) {
      s.on('error', end);
      s.on('close', () => {
        sockets.delete(s);
        end();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    endpoint: `opc.tcp://127.0.0.1:${port}`,
    freeze: () => void (frozen = true),
    thaw: () => void (frozen = false),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A SourceContext that records samples, tag errors and log lines for assertions. */
export interface RecordingContext extends SourceContext {
  samples: Sample[];
  tagErrors: Map<string, string | undefined>;
  logs: LogLine[];
}

export function recordingContext(dataDir: string, agentId = 'test-agent'): RecordingContext {
  const samples: Sample[] = [];
  const tagErrors = new Map<string, string | undefined>();
  const logs: LogLine[] = [];
  const log: Logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  return {
    agentId,
    dataDir,
    samples,
    tagErrors,
    logs,
    log,
    sink: { push: (s) => (samples.push(s), true) },
    status: { tagError: (tag, message) => void tagErrors.set(tag, message) },
  };
}

export function opcuaSource(fields: Partial<OpcuaSourceConfig> & { endpoint: string }): OpcuaSourceConfig {
  return OpcuaSourceSchema.parse({ name: 'plc1', type: 'opcua', ...fields });
}

export function opcuaTag(name: string, nodeId: string, extra: Partial<OpcuaTagConfig> = {}): OpcuaTagConfig {
  return OpcuaTagSchema.parse({ name, source: 'plc1', nodeId, ...extra });
}

export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
