import type { Logger } from '../../shared/logger.js';

/**
 * How long a graceful stop may take before the process exits anyway. The
 * units' TimeoutStopSec= (30 s) is above it, so the agent's own log line says
 * what happened rather than systemd's SIGKILL.
 */
export const GRACEFUL_STOP_MS = 20_000;

/**
 * Resolves on the first SIGINT or SIGTERM. From then on the stop is bounded:
 * past `boundMs` the process logs that the stop took too long and exits with
 * code 1, rather than linger as a service that never ends. A second signal
 * exits at once (a person pressing Ctrl-C again).
 */
export function onShutdownSignal(log: Logger, boundMs = GRACEFUL_STOP_MS): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const handler = (signal: NodeJS.Signals) => {
      if (received) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(130);
      }
      received = true;
      log.info({ signal, boundMs }, 'shutting down');
      setTimeout(() => {
        log.error({ boundMs }, `the graceful stop did not finish within ${Math.round(boundMs / 1000)} s; exiting now (records already committed are kept)`);
        process.exit(1);
      }, boundMs).unref();
      resolve(signal);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}
