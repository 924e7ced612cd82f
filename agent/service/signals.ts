import type { Logger } from '../../shared/logger.js';

/** Resolves on the first SIGINT or SIGTERM; a second one forces exit (stuck shutdown). */
export function onShutdownSignal(log: Logger, forceAfterMs = 15_000): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const handler = (signal: NodeJS.Signals) => {
      if (received) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(130);
      }
      received = true;
      log.info({ signal }, 'shutting down');
      // Bound the shutdown: if stopping hangs, exit rather than linger as a zombie service.
      setTimeout(() => {
        log.error('shutdown took too long; exiting');
        process.exit(1);
      }, forceAfterMs).unref();
      resolve(signal);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}
