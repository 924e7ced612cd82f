import { createHash } from 'node:crypto';
import pg from 'pg';
import { VigilError, describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { FLEET_MESSAGE_MAX_BYTES } from './hub-storage.js';
import { describeServer, run } from './postgres-sql.js';

const RECONNECT_MIN_MS = 1_000;
const RECONNECT_MAX_MS = 10_000;

/** One NOTIFY channel per schema, so two hubs sharing a server do not hear each other. */
export function fleetChannel(schema: string): string {
  const name = `vigil_fleet_${schema}`;
  // Identifiers stop at 63 bytes; a long schema name is hashed rather than cut (two cuts could collide).
  return name.length <= 63 ? name : `vigil_fleet_${createHash('sha256').update(schema).digest('hex').slice(0, 40)}`;
}

/**
 * Messages between the replicas sharing one database: NOTIFY through the
 * pool to publish, one dedicated connection (not from the pool: it must stay
 * open and LISTEN) to receive, opened on the first subscribe and reopened with
 * backoff when it breaks. NOTIFY reaches every listening session, this
 * replica's own included. A replica cut off from the database misses what is
 * published meanwhile (best effort, as the interface says).
 */
export class PostgresFleet {
  private readonly listeners = new Set<(message: unknown) => void>();
  private client: pg.Client | null = null;
  /** Settles after the first attempt to LISTEN (success or not): publish waits for it, so a subscriber hears its own replica's next message. */
  private firstAttempt: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly pool: pg.Pool,
    private readonly log: Logger | undefined,
  ) {}

  async publish(message: unknown): Promise<void> {
    let payload: string | undefined;
    try {
      payload = JSON.stringify(message);
    } catch (err) {
      throw new VigilError('VIGIL_HUB_STORAGE_FAILED', `a fleet message cannot be encoded as JSON: ${describeError(err)}`, { cause: err });
    }
    if (payload === undefined) throw new VigilError('VIGIL_HUB_STORAGE_FAILED', 'a fleet message must be a JSON value (got undefined)');
    const bytes = Buffer.byteLength(payload);
    if (bytes > FLEET_MESSAGE_MAX_BYTES) {
      throw new VigilError('VIGIL_HUB_STORAGE_FAILED', `a fleet message of ${bytes} bytes is over the ${FLEET_MESSAGE_MAX_BYTES}-byte limit: send an id and let replicas read the rest from storage`);
    }
    if (this.firstAttempt) await this.firstAttempt;
    await run(this.pool, 'publishing a fleet message', 'SELECT pg_notify($1, $2)', [this.channel, payload]);
  }

  subscribe(listener: (message: unknown) => void): () => void {
    this.listeners.add(listener);
    if (!this.firstAttempt && !this.closed) this.firstAttempt = this.listen();
    return () => {
      this.listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  /** One attempt to connect and LISTEN; on failure, or when the connection ends later, another after a backoff. */
  private async listen(attempt = 0): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 10_000 });
    client.on('notification', (n) => {
      if (n.channel === this.channel) this.deliver(n.payload);
    });
    client.on('error', (err) => {
      this.log?.warn({ err: describeError(err) }, `fleet listener connection to ${describeServer(this.url)} failed; reconnecting`);
      void client.end().catch(() => undefined);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
    } catch (err) {
      await client.end().catch(() => undefined);
      const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** attempt);
      this.log?.warn({ err: describeError(err), retryInMs: delay }, `fleet listener could not LISTEN on ${describeServer(this.url)}; retrying`);
      this.retryLater(delay, attempt + 1);
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    if (attempt > 0) this.log?.info(`fleet listener on ${describeServer(this.url)} listening again`);
    client.once('end', () => {
      if (this.client !== client || this.closed) return;
      this.client = null;
      this.log?.warn(`fleet listener connection to ${describeServer(this.url)} ended; reconnecting`);
      this.retryLater(RECONNECT_MIN_MS, 1);
    });
  }

  private retryLater(delay: number, attempt: number): void {
    if (this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.listen(attempt);
    }, delay);
    this.retryTimer.unref();
  }

  private deliver(payload: string | undefined): void {
    let message: unknown;
    try {
      message = JSON.parse(payload ?? 'null');
    } catch (err) {
      this.log?.warn({ err: describeError(err) }, 'a fleet message was not JSON; ignored');
      return;
    }
    for (const listener of [...this.listeners]) {
      try {
        listener(message);
      } catch (err) {
        this.log?.error({ err: describeError(err) }, 'a fleet message listener failed; the others still get the message');
      }
    }
  }
}
