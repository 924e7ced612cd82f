import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The hub's Prometheus metrics (`GET /metrics`). The gateway and the server
 * count into these directly: their rates are per batch and per request, not
 * per record, so prom-client's label lookups cost nothing that matters.
 */
export class HubMetrics {
  readonly registry = new Registry();

  readonly batches = new Counter({ name: 'vigil_hub_batches_total', help: 'Batches received from agents and stored (acknowledged).', labelNames: ['stream'], registers: [this.registry] });
  readonly recordsIngested = new Counter({ name: 'vigil_hub_records_ingested_total', help: 'Records new to the hub, stored.', labelNames: ['stream'], registers: [this.registry] });
  readonly duplicates = new Counter({ name: 'vigil_hub_records_duplicate_total', help: 'Records the hub already had (resends after a lost ack), ignored.', labelNames: ['stream'], registers: [this.registry] });
  readonly acks = new Counter({ name: 'vigil_hub_acks_total', help: 'Acknowledgements sent to agents.', registers: [this.registry] });
  readonly protocolErrors = new Counter({ name: 'vigil_hub_protocol_errors_total', help: 'Connections closed for a protocol error (malformed, out of order, too large), by reason.', labelNames: ['reason'], registers: [this.registry] });
  readonly storageFailures = new Counter({ name: 'vigil_hub_storage_failures_total', help: 'Batches that could not be stored (not acknowledged; the agent resends).', registers: [this.registry] });
  readonly upgradesRefused = new Counter({ name: 'vigil_hub_upgrades_refused_total', help: 'Websocket upgrades refused before the handshake, by reason.', labelNames: ['reason'], registers: [this.registry] });
  readonly disconnects = new Counter({ name: 'vigil_hub_disconnects_total', help: 'Agent connections closed, by close code.', labelNames: ['code'], registers: [this.registry] });
  readonly ingestSeconds = new Histogram({
    name: 'vigil_hub_ingest_seconds',
    help: 'Time from receiving a batch to its durable store (before the ack).',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly apiRequests = new Counter({ name: 'vigil_hub_api_requests_total', help: 'HTTP API requests, by status code.', labelNames: ['status'], registers: [this.registry] });
  readonly digests = new Counter({
    name: 'vigil_hub_digest_total',
    help: 'Scheduled digests, by result: sent (the webhook answered 2xx), failed (it did not; logged), empty (nothing waiting, not sent).',
    labelNames: ['result'],
    registers: [this.registry],
  });

  constructor(connectedAgents: () => number) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'vigil_hub_agents_connected',
      help: 'Agents connected to this hub replica now.',
      registers: [this.registry],
      collect() {
        this.set(connectedAgents());
      },
    });
  }
}
