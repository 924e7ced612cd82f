import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VigilError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { enrolAgent } from '../../cloud-sync/auth/agent-enrolment.js';
import { issueApiToken } from '../../cloud-sync/auth/api-token-issue.js';
import { loadHubConfig } from '../../cloud-sync/config/load-hub-config.js';
import { signingKeyPaths } from '../../cloud-sync/registry/signing-key.js';
import { startHub, type RunningHub } from '../../cloud-sync/start-hub.js';
import { createUser } from '../../cloud-sync/users/user-accounts.js';

export const DEMO_USER = 'demo';

export interface DemoHub {
  hub: RunningHub;
  /** The web app login of DEMO_USER (admin), generated for this run. */
  password: string;
  /** An admin API token the demo itself uses to train and deploy through the hub's API. */
  apiToken: string;
  /** Files the demo agent's `hub:` section names, relative to the demo folder. */
  tokenFile: string;
  publicKeyFile: string;
}

/**
 * The hub of the demo, in this process: a hub.yaml in `<dataDir>/hub.yaml`
 * (LMDB under `<dataDir>/hub`), an admin user for the web app, the demo agent
 * enrolled (its token and the hub's public key written next to agent.yaml).
 */
export async function startDemoHub(p: { dataDir: string; port: number; agentId: string; log: Logger }): Promise<DemoHub> {
  const hub = await startOnFreePort(p);
  try {
    const password = randomBytes(12).toString('base64url');
    await createUser(hub.storage, DEMO_USER, 'admin', password);
    const { token: apiToken } = await issueApiToken(hub.storage, 'vigil-demo', 'admin');
    const { token: agentToken } = await enrolAgent(hub.storage, p.agentId, { site: 'demo' });
    const tokenFile = 'agent-hub.token';
    const publicKeyFile = 'hub-signing-key.pub';
    writeFileSync(join(p.dataDir, tokenFile), agentToken + '\n', { mode: 0o600 });
    mkdirSync(p.dataDir, { recursive: true });
    copyFileSync(signingKeyPaths(join(p.dataDir, 'hub')).publicKey, join(p.dataDir, publicKeyFile));
    return { hub, password, apiToken, tokenFile, publicKeyFile };
  } catch (err) {
    await hub.stop();
    throw err;
  }
}

/** The hub on `port`, or on any free port when that one is taken (as the demo agent does). */
async function startOnFreePort(p: { dataDir: string; port: number; log: Logger }): Promise<RunningHub> {
  const configFile = join(p.dataDir, 'hub.yaml');
  for (const port of p.port === 0 ? [0] : [p.port, 0]) {
    writeFileSync(configFile, ['# Written by `vigil demo`.', 'hub:', '  id: demo-hub', '  dataDir: ./hub', 'http:', '  host: 127.0.0.1', `  port: ${port}`, ''].join('\n'));
    try {
      return await startHub(await loadHubConfig(configFile), p.log);
    } catch (err) {
      if (!(err instanceof VigilError && err.code === 'VIGIL_HTTP_LISTEN_FAILED' && port !== 0)) throw err;
      p.log.warn(`hub port ${port} is taken; using a free port instead`);
    }
  }
  throw new VigilError('VIGIL_HTTP_LISTEN_FAILED', 'the demo hub found no port to listen on');
}
