import { describeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/logger.js';
import { onShutdownSignal } from '../../agent/service/signals.js';
import { ConfigError, loadHubConfig } from '../config/load-hub-config.js';
import { startHub } from '../start-hub.js';

/** `vigil hub`: load and validate hub.yaml, run the hub until SIGINT/SIGTERM. */
export async function runHubCommand(configFile: string): Promise<number> {
  let config;
  try {
    config = await loadHubConfig(configFile);
  } catch (err) {
    process.stderr.write(err instanceof ConfigError ? err.format() + '\n' : `vigil hub: ${describeError(err)}\n`);
    return 1;
  }
  const log = createLogger({ level: config.log.level, name: 'vigil-hub' });
  let hub;
  try {
    hub = await startHub(config, log);
  } catch (err) {
    log.fatal({ err: describeError(err) }, 'hub could not start');
    return 1;
  }
  await onShutdownSignal(log);
  await hub.stop();
  log.info('hub stopped');
  return 0;
}
