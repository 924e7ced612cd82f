import { describeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/logger.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { startConfigReload, type ConfigReload } from '../service/config-reload.js';
import { createServiceNotifier } from '../service/sd-notify.js';
import { onShutdownSignal } from '../service/signals.js';
import { startAgent } from '../service/start-agent.js';
import { agentStatusLine } from '../service/status-line.js';

/**
 * `vigil agent`: load and validate the configuration, run until SIGINT/SIGTERM.
 * As a systemd service (Type=notify): READY=1 once running, watchdog pings,
 * a STATUS= line, a reload on SIGHUP or when a configuration file is saved,
 * STOPPING=1 and a bounded graceful stop on SIGTERM — also when SIGTERM
 * comes during start-up: the agent finishes starting, then stops everything
 * it started, without ever reporting READY=1.
 */
export async function runAgentCommand(configFile: string): Promise<number> {
  // SIGHUP's default action ends the process: until the agent can reload, a SIGHUP is ignored.
  let onReloadSignal = () => {};
  process.on('SIGHUP', () => onReloadSignal());
  // Before anything starts: SIGTERM's default action would end the process with sources half-started and the store open.
  const log = createLogger();
  let stopRequested = false;
  const shutdown = onShutdownSignal(log).then(() => void (stopRequested = true));

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
  log.level = config.log.level;
  if (stopRequested) return 0;
  log.info({ config: config.file }, 'agent starting');
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
  let reload: ConfigReload | undefined;
  if (stopRequested) {
    log.info('a stop was asked for during start-up: stopping without reporting ready');
  } else {
    reload = await startConfigReload(running, notifier, status, log.child({ component: 'config' }));
    const started = reload;
    onReloadSignal = () => started.request('SIGHUP');
    if (!stopRequested) {
      await notifier.ready(status());
      notifier.startHeartbeat(status);
    }
  }

  await shutdown;
  const stopping = notifier.stopping('stopping');
  reload?.close();
  await running.stop();
  await stopping;
  await notifier.close();
  return 0;
}
