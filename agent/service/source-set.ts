import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { ResolvedConfig, SourceConfig } from '../config/schema.js';
import { createSource } from '../sources/create-sources.js';
import type { SampleSink, TagStatusReporter } from '../sources/source.js';
import type { ConfigDiff } from './config-diff.js';
import { SourceSlot, type ReplaceOptions } from './source-slot.js';

export interface SourceSetContext {
  agentId: string;
  dataDir: string;
  sink: SampleSink;
  status: TagStatusReporter;
  log: Logger;
}

/**
 * The agent's sources, one slot per configured server or broker. `list` is
 * the same array for the agent's whole life — /healthz, /metrics, source
 * events and the hub read it — and a reload changes it in place: removed
 * sources stop and leave it, added ones join it, changed ones are replaced
 * inside their slot. Sources that did not change are not touched.
 */
export class SourceSet {
  readonly list: SourceSlot[] = [];
  private signal: AbortSignal | undefined;
  /** Per started slot: unhooks it from the agent's abort signal once it leaves the set. */
  private readonly unlink = new Map<SourceSlot, () => void>();

  constructor(
    config: ResolvedConfig,
    private readonly ctx: SourceSetContext,
  ) {
    for (const source of config.sources) this.list.push(this.slot(source, config));
  }

  /** Starts every source; one that fails to start is reported and the others run. */
  async start(signal: AbortSignal): Promise<void> {
    this.signal = signal;
    for (const slot of this.list) await this.startSlot(slot);
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.list.map((s) => s.stop()));
  }

  /**
   * Applies the source changes of a reload. `newestTs` tells, per tag, the
   * newest timestamp already delivered (see HandoverSink).
   */
  async apply(diff: ConfigDiff, next: ResolvedConfig, newestTs: (tag: string) => number | undefined): Promise<void> {
    const byName = new Map(next.sources.map((s): [string, SourceConfig] => [s.name, s]));
    const removed = this.list.filter((s) => diff.sources.removed.includes(s.name));
    for (const slot of removed) {
      this.list.splice(this.list.indexOf(slot), 1);
      this.release(slot);
    }
    await Promise.allSettled(removed.map((s) => s.stop()));

    await Promise.all(
      diff.sources.changed.map(async (name) => {
        const slot = this.list.find((s) => s.name === name);
        const config = byName.get(name);
        if (!slot || !config) return;
        if (slot.type !== config.type) {
          // An OPC UA server became an MQTT broker under the same name: nothing carries over.
          await slot.stop();
          this.release(slot);
          const fresh = this.slot(config, next);
          this.list.splice(this.list.indexOf(slot), 1, fresh);
          await this.startSlot(fresh);
          return;
        }
        await slot.replace((sink) => createSource(config, next, { ...this.ctx, sink }), replaceOptions(config, slot, newestTs));
      }),
    );

    for (const name of diff.sources.added) {
      const config = byName.get(name);
      if (!config) continue;
      const slot = this.slot(config, next);
      this.list.push(slot);
      await this.startSlot(slot);
    }
  }

  private slot(source: SourceConfig, config: ResolvedConfig): SourceSlot {
    return new SourceSlot(source.name, (sink) => createSource(source, config, { ...this.ctx, sink }), this.ctx.sink, this.ctx.log);
  }

  private async startSlot(slot: SourceSlot): Promise<void> {
    try {
      await slot.start(this.linkedSignal(slot));
    } catch (err) {
      // A source that fails to start is reported, not fatal: the others run.
      this.ctx.log.error({ source: slot.name, err: describeError(err) }, 'source failed to start');
    }
  }

  /**
   * The slot's own abort signal, which follows the agent's. A source listens
   * on the signal it started with for good: were that the agent's, every
   * source a reload removed would stay listening on it, one listener and one
   * stopped source kept in memory per removal (and Node's listener-leak
   * warning after ten).
   */
  private linkedSignal(slot: SourceSlot): AbortSignal | undefined {
    const agent = this.signal;
    if (!agent) return undefined;
    const own = new AbortController();
    if (agent.aborted) own.abort();
    const follow = () => own.abort();
    agent.addEventListener('abort', follow, { once: true });
    this.unlink.set(slot, () => agent.removeEventListener('abort', follow));
    return own.signal;
  }

  private release(slot: SourceSlot): void {
    this.unlink.get(slot)?.();
    this.unlink.delete(slot);
  }
}

/**
 * OPC UA: the new session runs beside the old one until it is connected, when
 * the old one is connected at all (else there is nothing to keep flowing).
 * MQTT: stop, then start; the broker keeps the persistent session between.
 */
function replaceOptions(config: SourceConfig, slot: SourceSlot, newestTs: (tag: string) => number | undefined): ReplaceOptions {
  if (config.type !== 'opcua' || !slot.health().connected) return { overlap: false, connectWaitMs: 0, settleMs: 0, newestTs };
  return {
    overlap: true,
    connectWaitMs: config.connectTimeoutMs + 5000,
    // Values in flight from the old session, and the new session's first publish.
    settleMs: Math.min(30_000, 2 * config.publishingIntervalMs + 1000),
    newestTs,
  };
}
