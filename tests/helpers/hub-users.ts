import { spawnVigil } from './agent-process.js';
import type { HubProcess } from './hub-process.js';

export interface WebUser {
  name: string;
  role: 'viewer' | 'operator' | 'admin';
  password: string;
}

/** Creates a web app user the way an installer does: `vigil hub users add … --password-env` beside the running hub. */
export async function addHubUser(hub: HubProcess, user: WebUser): Promise<void> {
  const variable = 'VIGIL_TEST_USER_PASSWORD';
  await hub.admin(async () => {
    const child = spawnVigil(['hub', 'users', 'add', user.name, '--role', user.role, '--password-env', variable, '--config', hub.configFile], { [variable]: user.password });
    const code = await child.exited;
    if (code !== 0) throw new Error(`vigil hub users add ${user.name} exited ${code}:\n${child.stdout()}\n${child.stderr()}`);
  });
}
