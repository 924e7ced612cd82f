import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * The orchestrator's handle on one child role: spawn it (node --import tsx),
 * wait for its events, send it commands, and fail loudly if it dies.
 */

const HERE = dirname(fileURLToPath(import.meta.url));

/** node-opcua's informational console lines about its own environment, not about the run. */
const NOISE = [/NODE-OPCUA-W27/, /--security-revert=CVE-2023-46809/, /Creating default certificate/];

export interface RoleOptions {
  /** Extra node flags. */
  nodeFlags?: string[];
  /** Extra environment variables (e.g. BENCH_PROFILE_DIR). */
  env?: Record<string, string>;
}

interface Reply {
  id?: number;
  ok?: boolean;
  data?: unknown;
  error?: string;
  event?: string;
}

export class RoleProcess {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly events = new Map<string, unknown>();
  private readonly eventWaiters = new Map<string, Array<(v: unknown) => void>>();
  private failure: Error | undefined;
  private readonly failureWaiters = new Set<(e: Error) => void>();
  private stopping = false;
  readonly exited: Promise<number | null>;

  constructor(
    readonly role: string,
    args: string[],
    opts: RoleOptions = {},
  ) {
    this.child = spawn(process.execPath, [...(opts.nodeFlags ?? []), '--import', 'tsx', join(HERE, `${role}.ts`), ...args], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, ...opts.env },
    });
    // Children print only problems; pass them on to stderr, labelled, minus node-opcua's start-up chatter.
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        if (!NOISE.some((re) => re.test(line))) process.stderr.write(`[${role}] ${line}\n`);
      });
    }
    this.child.on('message', (msg: Reply) => this.onMessage(msg));
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        if (!this.stopping || code !== 0) this.fail(new Error(`${role} exited unexpectedly (code ${code}, signal ${signal})`));
        resolve(code);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Resolves with the event's data; rejects if the child dies or the time runs out. */
  waitFor<T = unknown>(event: string, timeoutMs: number): Promise<T> {
    if (this.events.has(event)) return Promise.resolve(this.events.get(event) as T);
    return this.guard(
      new Promise<T>((resolve) => {
        const list = this.eventWaiters.get(event) ?? [];
        list.push(resolve as (v: unknown) => void);
        this.eventWaiters.set(event, list);
      }),
      timeoutMs,
      `${this.role}: no "${event}" within ${Math.round(timeoutMs / 1000)} s`,
    );
  }

  request<T = unknown>(cmd: string, timeoutMs = 30_000): Promise<T> {
    const id = this.nextId++;
    const reply = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
    if (cmd === 'stop') this.stopping = true;
    this.child.send({ id, cmd });
    return this.guard(reply, timeoutMs, `${this.role}: no answer to "${cmd}" within ${Math.round(timeoutMs / 1000)} s`);
  }

  /** Asks the role to shut down and waits for the process to end; returns the role's final data. */
  async stop<T = unknown>(timeoutMs = 30_000): Promise<T> {
    const data = await this.request<T>('stop', timeoutMs);
    const code = await this.exited;
    if (code !== 0) throw new Error(`${this.role} exited with code ${code} while stopping`);
    return data;
  }

  kill(): void {
    this.stopping = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private onMessage(msg: Reply): void {
    if (msg.event) {
      this.events.set(msg.event, msg.data);
      for (const waiter of this.eventWaiters.get(msg.event) ?? []) waiter(msg.data);
      this.eventWaiters.delete(msg.event);
      return;
    }
    const pending = msg.id === undefined ? undefined : this.pending.get(msg.id);
    if (!pending) return;
    this.pending.delete(msg.id!);
    if (msg.ok) pending.resolve(msg.data);
    else pending.reject(new Error(`${this.role}: ${msg.error}`));
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const w of this.failureWaiters) w(err);
  }

  private guard<T>(promise: Promise<T>, timeoutMs: number, timeoutMessage: string): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      const onFail = (e: Error) => done(() => reject(e));
      const timer = setTimeout(() => done(() => reject(new Error(timeoutMessage))), timeoutMs);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.failureWaiters.delete(onFail);
        settle();
      };
      this.failureWaiters.add(onFail);
      promise.then(
        (v) => done(() => resolve(v)),
        (e: Error) => done(() => reject(e)),
      );
    });
  }
}
