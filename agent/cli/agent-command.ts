import { describeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/logger.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { startAgent } from '../service/start-agent.js';
import { onShutdownSignal } from '../service/signals.js';

/** `vigil agent`: load and validate the configuration, run until SIGINT/SIGTERM. */
export async function runAgentCommand(configFile: string): Promise<number> {
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
  let agent;
  try {
    agent = await startAgent(config, log);
  } catch (err) {
    log.fatal({ err: describeError(err) }, 'agent could not start');
    return 1;
  }
  await onShutdownSignal(log);
  await agent.stop();
  return 0;
}
