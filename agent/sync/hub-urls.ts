import type { HubConfig } from '../config/schema.js';

/** The hub addresses of the `hub` section, in the order given: `urls`, or the one `url`. */
export function configuredHubUrls(config: Pick<HubConfig, 'url' | 'urls'>): string[] {
  if (config.urls && config.urls.length > 0) return [...config.urls];
  if (config.url) return [config.url];
  throw new RangeError('the hub section has neither url nor urls');
}

/** What the link does after a connection attempt ended without a welcome. */
export interface AfterFailure {
  /** The URL to try next (may be the same one). */
  url: string;
  /** True when `url` differs from the one that just failed. */
  moved: boolean;
  /** True when every URL was tried since the last welcome (or the last full round): back off before the next try. */
  roundOver: boolean;
}

/**
 * Which hub replica to try next. Pure bookkeeping, no sockets.
 *
 * A round tries the URLs in order, starting with the one that last worked
 * (the first until one does). A failed attempt moves on at once: a dead
 * replica costs one quick attempt, not a backoff. Only a round in which no
 * URL answered with a welcome ends in a backoff, after which the next round
 * starts again at the one that last worked. A connection that was welcomed
 * and then dropped moves to the next URL (the dropped replica is probably the
 * one that died) and starts a new round there.
 *
 * A refused token (HTTP 401) does not move: every replica checks the same
 * token, so trying the others would only load them.
 */
export class HubUrlRotation {
  private readonly urls: readonly string[];
  private index = 0;
  /** The URL that last sent a welcome (the first until one does). */
  private home = 0;
  /** Attempts without a welcome since the round started. */
  private triedInRound = 0;

  constructor(urls: readonly string[]) {
    if (urls.length === 0) throw new RangeError('at least one hub URL is needed');
    this.urls = [...urls];
  }

  /** The URL to connect to now. */
  current(): string {
    return this.urls[this.index]!;
  }

  all(): readonly string[] {
    return this.urls;
  }

  /** The current URL welcomed the agent: it is where the next round starts. */
  welcomed(): void {
    this.home = this.index;
    this.triedInRound = 0;
  }

  /** A welcomed connection ended: the next attempt goes to the next URL. Returns it, and whether it differs. */
  dropped(): { url: string; moved: boolean } {
    this.triedInRound = 0;
    return this.moveTo((this.index + 1) % this.urls.length);
  }

  /** An attempt ended without a welcome (unreachable, TLS, HTTP 5xx, closed before the welcome). */
  attemptFailed(): AfterFailure {
    this.triedInRound++;
    if (this.triedInRound < this.urls.length) return { ...this.moveTo((this.index + 1) % this.urls.length), roundOver: false };
    this.triedInRound = 0;
    return { ...this.moveTo(this.home), roundOver: true };
  }

  /** The hub refused the token: stay, and start the round over after the (long) wait. */
  unauthorized(): void {
    this.triedInRound = 0;
  }

  private moveTo(index: number): { url: string; moved: boolean } {
    const moved = index !== this.index;
    this.index = index;
    return { url: this.current(), moved };
  }
}
