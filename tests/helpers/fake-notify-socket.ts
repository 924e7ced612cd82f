import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NotifyDatagram {
  /** CLOCK_MONOTONIC at receipt, in microseconds (the clock MONOTONIC_USEC= uses). */
  receivedUsec: number;
  /** Assignments of the datagram, e.g. { READY: '1', STATUS: '…' }. */
  fields: Record<string, string>;
  text: string;
}

export interface FakeNotifySocket {
  /** The value for NOTIFY_SOCKET: a path, or `@name` for an abstract socket. */
  address: string;
  /** Every datagram received so far, without systemd-notify's BARRIER=1 messages. */
  messages(): NotifyDatagram[];
  /** Resolves with the first datagram (after `from`) that has `field`. */
  waitFor(field: string, timeoutMs?: number, from?: number): Promise<NotifyDatagram>;
  close(): Promise<void>;
}

// The receiving end as systemd has it: a real AF_UNIX SOCK_DGRAM socket. Node
// cannot bind one, Python's socket module can. recv() without room for
// ancillary data closes the fd systemd-notify's barrier passes, which is what
// releases that barrier, as PID 1 does.
const RECEIVER = `
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
address = sys.argv[1]
s.bind("\\0" + address[1:] if address.startswith("@") else address)
print(json.dumps({"bound": True}), flush=True)
while True:
    data = s.recv(65536)
    print(json.dumps({"t": time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000, "d": data.decode()}), flush=True)
`;

/** A unix datagram socket standing in for systemd's notify socket. */
export async function startFakeNotifySocket(options: { abstract?: boolean } = {}): Promise<FakeNotifySocket> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-notify-'));
  const address = options.abstract ? `@vigil-notify-test-${process.pid}-${Date.now()}` : join(dir, 'notify.sock');
  const child: ChildProcessWithoutNullStreams = spawn('python3', ['-c', RECEIVER, address]);
  const received: NotifyDatagram[] = [];
  let buffered = '';
  let bound!: () => void;
  const ready = new Promise<void>((resolve) => (bound = resolve));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const entry = JSON.parse(line) as { bound?: boolean; t?: number; d?: string };
      if (entry.bound) bound();
      if (entry.d === undefined || entry.d === 'BARRIER=1') continue;
      const fields: Record<string, string> = {};
      for (const assignment of entry.d.split('\n')) {
        const at = assignment.indexOf('=');
        if (at > 0) fields[assignment.slice(0, at)] = assignment.slice(at + 1);
      }
      received.push({ receivedUsec: entry.t ?? 0, fields, text: entry.d });
    }
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  await Promise.race([
    ready,
    new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`the fake notify socket did not start (exit ${code}): ${stderr}`)))),
  ]);

  const waitFor = async (field: string, timeoutMs = 10_000, from = 0): Promise<NotifyDatagram> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = received.slice(from).find((m) => field in m.fields);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no ${field}= notification within ${timeoutMs} ms; received: ${JSON.stringify(received.map((m) => m.text))}`);
  };
  return {
    address,
    messages: () => [...received],
    waitFor,
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
