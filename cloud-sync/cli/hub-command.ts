import { describeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/logger.js';
import { createServiceNotifier } from '../../agent/service/sd-notify.js';
import { onShutdownSignal } from '../../agent/service/signals.js';
import { ConfigError, loadHubConfig } from '../config/load-hub-config.js';
import { startHub } from '../start-hub.js';

/**
 * `vigil hub`: load and validate hub.yaml, run the hub until SIGINT/SIGTERM.
 * As a systemd service (Type=notify): READY=1 once the port is open, watchdog
 * pings, STOPPING=1 and a bounded graceful stop on SIGTERM — also when SIGTERM
 * comes during start-up: the hub finishes starting, then stops, without ever
 * reporting READY=1.
 */
export async function runHubCommand(configFile: string): Promise<number> {
  const log = createLogger({ name: 'vigil-hub' });
  // The hub reads hub.yaml once; a SIGHUP (whose default action ends the process) says so instead.
  process.on('SIGHUP', () => log.warn('SIGHUP: the hub does not reload hub.yaml; restart it to apply changes (systemctl restart vigil-hub)'));
  // Before anything starts: SIGTERM's default action would end the process with storage open and migrations half run.
  let stopRequested = false;
  const shutdown = onShutdownSignal(log).then(() => void (stopRequested = true));
  let config;
  try {
    config = await loadHubConfig(configFile);
  } catch (err) {
    process.stderr.write(err instanceof ConfigError ? err.format() + '\n' : `vigil hub: ${describeError(err)}\n`);
    return 1;
  }
  log.level = config.log.level;
  if (stopRequested) return 0;
  log.info({ config: configFile }, 'hub starting');
  const notifier = createServiceNotifier({ log: log.child({ component: 'systemd' }) });
  let hub;
  try {
    hub = await startHub(config, log);
  } catch (err) {
    log.fatal({ err: describeError(err) }, 'hub could not start');
    return 1;
  }
  const status = `serving ${hub.url}`;
  if (stopRequested) log.info('a stop was asked for during start-up: stopping without reporting ready');
  else {
    await notifier.ready(status);
    notifier.startHeartbeat(() => status);
  }

  await shutdown;
  const stopping = notifier.stopping('stopping');
  await hub.stop();
  log.info('hub stopped');
  await stopping;
  await notifier.close();
  return 0;
}
