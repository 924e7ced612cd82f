/**
 * When each shadowing agent is due to activate, in memory. The truth is each
 * target's `shadowUntil` in storage: the deployer fills this from storage on
 * start, so a hub restart still activates later; this only spares a storage
 * scan every second.
 */
export interface ShadowDeadline {
  deployment: string;
  agent: string;
  until: number;
}

export class ShadowDeadlines {
  private readonly deadlines = new Map<string, ShadowDeadline>();

  set(deadline: ShadowDeadline): void {
    this.deadlines.set(keyOf(deadline.deployment, deadline.agent), deadline);
  }

  delete(deployment: string, agent: string): void {
    this.deadlines.delete(keyOf(deployment, agent));
  }

  deleteDeployment(deployment: string): void {
    for (const [key, d] of this.deadlines) if (d.deployment === deployment) this.deadlines.delete(key);
  }

  /** The deadlines that have passed at `now`, removed. */
  takeDue(now: number): ShadowDeadline[] {
    const due: ShadowDeadline[] = [];
    for (const [key, d] of this.deadlines) {
      if (d.until <= now) {
        due.push(d);
        this.deadlines.delete(key);
      }
    }
    return due;
  }

  get size(): number {
    return this.deadlines.size;
  }
}

const keyOf = (deployment: string, agent: string) => `${deployment}\u0000${agent}`;
