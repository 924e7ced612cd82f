/** IPC between the bench:hub orchestrator and its sim-fleet role processes. */

/** One simulated agent as the role is given it: who it is and which replica it talks to. */
export interface FleetAgent {
  id: string;
  token: string;
  /** http://127.0.0.1:<port> of the replica this agent connects to. */
  hubUrl: string;
}

/** What the role reads from the JSON file named on its command line. */
export interface FleetFile {
  agents: FleetAgent[];
  /** PEM of the key every package must be signed with. */
  publicKeyPem: string;
  batchRecords: number;
  inFlightBatches: number;
}

/**
 * A load phase.
 *
 * drain: every agent keeps `inFlightBatches` batches unacked (a backlog after
 * an outage: the hubs' capacity). After `warmupMs` the window opens; after
 * `windowMs` more the agents stop sending new batches, and the window closes
 * at the last ack, so what was in flight is part of the window (the hubs stay
 * saturated to the end) instead of a wait after it.
 *
 * steady: every agent is due a batch every `1 / batchesPerSecond` s (open
 * loop, random phase) and sends it as soon as it has a free in-flight slot; its
 * latency counts from when it was due, so a hub that falls behind is not
 * flattered.
 */
export type LoadPhase = { mode: 'drain'; warmupMs: number; windowMs: number } | { mode: 'steady'; batchesPerSecond: number; warmupMs: number; windowMs: number };

export type ToFleet = { run: LoadPhase } | { stop: true };

/** What one role saw in one phase's measuring window. */
export interface WindowReport {
  /** Length of the window on the role's clock, s. */
  seconds: number;
  /** Records whose ack arrived inside the window. */
  records: number;
  /** Batch ack latencies inside the window, ms (send or due time → ack). */
  latenciesMs: number[];
  /** Time after the window until every batch sent was acked, ms. */
  settleMs: number;
  /** Batches still unacked when the role gave up waiting (0 normally). */
  unsettled: number;
  /** Agents not connected at the end of the phase (0 normally). */
  disconnected: number;
}

export type FromFleet =
  | { connected: number; failures: number }
  | { window: WindowReport }
  | { active: string; deployment: string }
  /** An agent's connection closed or failed outside a stop; a healthy run has none. */
  | { problem: string; agent: string }
  /** Every record any agent of the role got acked since it started (stop answer). */
  | { stopped: { ackedRecords: number } };
