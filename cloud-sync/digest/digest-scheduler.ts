import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { DigestConfig } from '../config/hub-config-schema.js';
import type { HubMetrics } from '../server/hub-metrics.js';
import type { HubStorage } from '../storage/hub-storage.js';
import { buildDigest, digestMessage } from './build-digest.js';
import { nextDigestAt } from './digest-schedule.js';
import { postWebhook, redactUrl } from './post-webhook.js';

/** Storage meta: when the schedule began and the last send, so a restart neither re-sends early nor forgets a due one. */
export const DIGEST_META_KEY = 'digest:schedule';

export interface DigestScheduleState {
  /** When this hub first scheduled digests; the first send is one period after it. */
  since: number;
  lastRunAt: number | null;
  /** Null while the run that claimed lastRunAt is still sending. */
  lastResult: DigestResult | null;
  /** The replica (hub.id) that ran it. */
  lastRunBy?: string;
}

export type DigestResult = 'sent' | 'failed' | 'empty';

/** A long timer is re-armed at least this often, so a clock step or a laptop suspend cannot delay a send by more. */
const MAX_SLEEP_MS = 60 * 60_000;

export interface DigestSchedulerDeps {
  storage: HubStorage;
  config: DigestConfig & { webhookUrl: string };
  hubId: string;
  publicUrl: string | undefined;
  metrics: HubMetrics;
  log: Logger;
}

/**
 * Sends the digest to the webhook on schedule (see digest-schedule.ts). A
 * send that was due while the hub was down goes out once at start; a failed
 * send is logged, counted and not retried before the next one (the web app
 * shows the same digest meanwhile).
 */
export class DigestScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly deps: DigestSchedulerDeps) {}

  async start(): Promise<void> {
    const state = await this.state();
    const next = this.nextAfter(state);
    this.deps.log.info({ webhook: redactUrl(this.deps.config.webhookUrl), next: new Date(next).toISOString() }, 'digest scheduled');
    this.arm(next);
  }

  /** Stops the timer and cancels a send in flight. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort();
    await this.running;
  }

  private arm(due: number): void {
    if (this.abort.signal.aborted) return;
    const wait = Math.max(0, Math.min(due - Date.now(), MAX_SLEEP_MS));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.wake(due).finally(() => (this.running = undefined));
    }, wait);
  }

  /**
   * At the due time every replica wakes; each claims the run by moving
   * lastRunAt from the value it read to now (compare-and-set in storage).
   * Exactly one wins and sends; the others see the new lastRunAt and sleep
   * until the next one.
   */
  private async wake(due: number): Promise<void> {
    try {
      const before = await this.state();
      const next = this.nextAfter(before);
      if (Date.now() < next) {
        // Early wake (long sleeps are split), or another replica ran this one.
        due = next;
      } else {
        const claimed: DigestScheduleState = { ...before, lastRunAt: Date.now(), lastResult: null, lastRunBy: this.deps.hubId };
        if (await this.deps.storage.compareAndSetMeta(DIGEST_META_KEY, before, claimed)) {
          const result = await this.send();
          if (this.abort.signal.aborted) return;
          await this.deps.storage.compareAndSetMeta(DIGEST_META_KEY, claimed, { ...claimed, lastResult: result });
        } else {
          this.deps.log.debug('the digest was sent by another hub replica');
        }
        due = this.nextAfter(await this.state());
      }
    } catch (err) {
      // Not recorded (storage): the next run is one period from now rather than at once again.
      this.deps.log.error({ code: 'VIGIL_HUB_STORAGE_FAILED', err: describeError(err) }, 'the digest run could not be claimed or recorded');
      due = Date.now() + this.everyMs();
    }
    this.arm(due);
  }

  /** Builds and posts one digest; never throws: every outcome is logged and counted. */
  private async send(): Promise<DigestResult> {
    const { storage, config, hubId, publicUrl, metrics, log } = this.deps;
    let result: DigestResult;
    let waiting: number | undefined;
    try {
      const digest = await buildDigest(storage, config.maxEpisodes);
      waiting = digest.waiting;
      if (digest.waiting === 0 && !config.sendEmpty) {
        result = 'empty';
        log.info('digest not sent: no episode is waiting for an answer');
      } else {
        await postWebhook(config.webhookUrl, digestMessage(digest, hubId, publicUrl), this.abort.signal);
        result = 'sent';
        log.info({ waiting: digest.waiting, episodes: digest.episodes.length }, 'digest sent');
      }
    } catch (err) {
      if (this.abort.signal.aborted) return 'failed';
      result = 'failed';
      log.error({ code: 'VIGIL_HUB_WEBHOOK_FAILED', err: describeError(err), waiting }, 'the digest could not be sent to the webhook; the next one goes out on schedule');
    }
    metrics.digests.inc({ result });
    return result;
  }

  /** The shared schedule; the first replica to start it sets `since` for all. */
  private async state(): Promise<DigestScheduleState> {
    const stored = await this.deps.storage.getMeta<DigestScheduleState>(DIGEST_META_KEY);
    if (stored) return stored;
    return this.deps.storage.initMeta<DigestScheduleState>(DIGEST_META_KEY, { since: Date.now(), lastRunAt: null, lastResult: null });
  }

  private nextAfter(state: DigestScheduleState): number {
    return nextDigestAt(state.lastRunAt ?? state.since, this.everyMs(), this.deps.config.at);
  }

  private everyMs(): number {
    // At least a second: a tiny fraction of a minute must not spin.
    return Math.max(1000, Math.round(this.deps.config.every * 60_000));
  }
}
