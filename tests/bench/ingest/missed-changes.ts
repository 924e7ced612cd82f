import { sleep } from './child-meter.js';

/**
 * Counts value changes an OPC UA client never received. Every bulk variable
 * changes once per server tick and all share the tick's source timestamp, so
 * a step of more than one tick between two notifications of an item is a
 * change lost somewhere (server sampling or a late subscription whose queue
 * of size 1 was overwritten). Runs only after the measuring window.
 */

export const VERIFY_MS = 8000;
const TICK_MS = 1000;

export interface MissedReport {
  /** Notifications seen in the verification period. */
  received: number;
  /** Changes skipped between two notifications of the same item. */
  missed: number;
  /** Notifications repeating the previous source timestamp. */
  repeated: number;
  /** missed ÷ (received + missed). */
  missedShare: number;
}

export class MissedChanges {
  active = false;
  private readonly last: Float64Array;
  private received = 0;
  private missed = 0;
  private repeated = 0;

  constructor(items: number) {
    this.last = new Float64Array(items);
  }

  see(index: number, ts: number): void {
    this.received++;
    const prev = this.last[index]!;
    this.last[index] = ts;
    if (prev === 0) return;
    const steps = Math.round((ts - prev) / TICK_MS);
    if (steps <= 0) this.repeated++;
    else this.missed += steps - 1;
  }

  async measure(ms: number): Promise<MissedReport> {
    this.last.fill(0);
    this.received = this.missed = this.repeated = 0;
    this.active = true;
    await sleep(ms);
    this.active = false;
    const total = this.received + this.missed;
    return { received: this.received, missed: this.missed, repeated: this.repeated, missedShare: total === 0 ? 0 : this.missed / total };
  }
}
