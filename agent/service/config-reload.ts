import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { checkConfig } from '../config/load.js';
import { ConfigWatcher } from './config-watch.js';
import type { ReloadOutcome } from './live-config.js';
import type { ServiceNotifier } from './sd-notify.js';

export interface ReloadTarget {
  reload(trigger: string): Promise<ReloadOutcome>;
  config(): { file: string };
}

export interface ConfigReload {
  /** Asks for a reload (SIGHUP, a test). Requests that arrive while one waits are merged into it. */
  request(trigger: string): void;
  close(): void;
}

/**
 * What starts a reload of the running agent: SIGHUP (`systemctl reload`,
 * delivered to `request`) and any saved change of the configuration file or
 * its tag files. systemd hears RELOADING=1 before and READY=1 after, also
 * when the new files were refused (the agent runs on, with the previous
 * configuration).
 */
export async function startConfigReload(target: ReloadTarget, notifier: ServiceNotifier, status: () => string, log: Logger): Promise<ConfigReload> {
  const watcher = new ConfigWatcher((file) => request(`file changed: ${file}`), log);
  let watched = (await checkConfig(target.config().file)).files;
  watcher.watch(watched);

  let chain: Promise<void> = Promise.resolve();
  let waiting = false;
  let closed = false;
  const run = async (trigger: string) => {
    await notifier.reloading(`reloading the configuration (${trigger})`);
    try {
      const outcome = await target.reload(trigger);
      if (closed || outcome.result === 'stopping') return;
      // A refused set may list tag files it could not read: keep watching the ones of the configuration in effect too.
      watched = outcome.result === 'rejected' ? [...new Set([...watched, ...outcome.files])] : outcome.files;
      watcher.watch(watched);
    } finally {
      // systemd shows the unit "reloading" until READY=1; but once STOPPING=1 went out, READY=1 must not follow it.
      if (!closed) await notifier.ready(status());
    }
  };
  const request = (trigger: string) => {
    if (closed || waiting) return;
    waiting = true;
    chain = chain
      .then(() => {
        waiting = false;
        return run(trigger);
      })
      .catch((err: unknown) => log.error({ trigger, err: describeError(err) }, 'configuration reload failed'));
  };
  return {
    request,
    close: () => {
      closed = true;
      watcher.close();
    },
  };
}
