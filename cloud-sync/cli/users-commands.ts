import type { Role } from '../api/api-route.js';
import { readNewPassword, type PasswordSource } from '../users/read-password.js';
import { changeUser, createUser, removeUser } from '../users/user-accounts.js';
import { isoTime, table, withHubStorage, type Print } from './with-hub-storage.js';

/**
 * `vigil hub users …`: web app accounts, managed on the hub's storage directly
 * (how the first admin comes to exist). A running hub sees the change at the
 * next request: sessions and roles are read from storage every time.
 */

export function runUsersAdd(name: string, role: Role, source: PasswordSource, configFile: string, out: Print): Promise<number> {
  return withHubStorage('hub users add', configFile, async (storage) => {
    const password = await readNewPassword(source, name);
    await createUser(storage, name, role, password);
    out(`User ${name} created (role ${role}); log in to the web app with this name and password.`);
    return 0;
  });
}

export function runUsersList(configFile: string, out: Print): Promise<number> {
  return withHubStorage('hub users list', configFile, async (storage) => {
    const users = await storage.listUsers();
    if (users.length === 0) {
      out('No users yet: add the first admin with `vigil hub users add <name> --role admin --config <hub.yaml>`.');
      return 0;
    }
    out(table(['NAME', 'ROLE', 'CREATED', 'STATE'], users.map((u) => [u.name, u.role, isoTime(u.createdAt), u.disabled ? 'disabled' : 'enabled'])));
    return 0;
  });
}

export function runUsersPasswd(name: string, source: PasswordSource, configFile: string, out: Print): Promise<number> {
  return withHubStorage('hub users passwd', configFile, async (storage) => {
    // Checked before asking: typing a password twice for a name that does not exist helps nobody.
    if (!(await storage.getUser(name))) return noSuchUser('passwd', name);
    const password = await readNewPassword(source, name);
    await changeUser(storage, name, { password });
    out(`Password of ${name} changed; their open sessions were ended.`);
    return 0;
  });
}

export function runUsersRole(name: string, role: Role, configFile: string, out: Print): Promise<number> {
  return withHubStorage('hub users role', configFile, async (storage) => {
    if (!(await storage.getUser(name))) return noSuchUser('role', name);
    await changeUser(storage, name, { role });
    out(`${name} is now ${role}.`);
    return 0;
  });
}

export function runUsersRemove(name: string, configFile: string, out: Print): Promise<number> {
  return withHubStorage('hub users remove', configFile, async (storage) => {
    if (!(await storage.getUser(name))) return noSuchUser('remove', name);
    await removeUser(storage, name);
    out(`User ${name} removed; their sessions were ended.`);
    return 0;
  });
}

function noSuchUser(command: string, name: string): number {
  process.stderr.write(`vigil hub users ${command}: there is no user ${name} (see \`vigil hub users list\`)\n`);
  return 1;
}
