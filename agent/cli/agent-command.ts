import { describeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/logger.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { startConfigReload } from '../service/config-reload.js';
import { createServiceNotifier } from '../service/sd-notify.js';
import { onShutdownSignal } from '../service/signals.js';
import { startAgent } from '../service/start-agent.js';
import { agentStatusLine } from '../service/status-line.js';

/**
 * `vigil agent`: load and validate the configuration, run until SIGINT/SIGTERM.
 * As a systemd service (Type=notify): READY=1 once running, watchdog pings,
 * a STATUS= line, a reload on SIGHUP or when a configuration file is saved,
 * STOPPING=1 and a bounded graceful stop on SIGTERM.
 */
export async function runAgentCommand(configFile: string): Promise<number> {
  // SIGHUP's default action ends the process: until the agent can reload, a SIGHUP is ignored.
  let onReloadSignal = () => {};
  process.on('SIGHUP', () => onReloadSignal());

  let config;
  try {
    config = await loadConfig(configFile);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.format() + '\n');
      return 1;
    }
    process.stderr.write(`vigil agent: ${describeError(err)}\n`);
    return 1;
  }
  const log = createLogger({ level: config.log.level });
  const notifier = createServiceNotifier({ log: log.child({ component: 'systemd' }) });
  let agent;
  try {
    agent = await startAgent(config, log);
  } catch (err) {
    log.fatal({ err: describeError(err) }, 'agent could not start');
    return 1;
  }
  const running = agent;
  const status = () => agentStatusLine(running.health(), running.tags.counts());
  const reload = await startConfigReload(running, notifier, status, log.child({ component: 'config' }));
  onReloadSignal = () => reload.request('SIGHUP');
  await notifier.ready(status());
  notifier.startHeartbeat(status);

  await onShutdownSignal(log);
  const stopping = notifier.stopping('stopping');
  reload.close();
  await running.stop();
  await stopping;
  await notifier.close();
  return 0;
}
