import { VigilError } from '../../shared/errors.js';
import type { Role } from '../api/api-route.js';
import type { HubStorage, UserRecord } from '../storage/hub-storage.js';
import { MIN_PASSWORD_LENGTH, hashPassword } from './password-hash.js';

/**
 * Managing web app users, the same for the API (`/api/users`) and the command
 * line (`vigil hub users …`): names and passwords checked, passwords hashed,
 * sessions ended when a password changes or a user is disabled or removed,
 * and the last enabled admin never removed, demoted or disabled (nobody could
 * manage users from the web app after that).
 */

/** What the API and the command line show of a user: never the hash. */
export interface UserView {
  name: string;
  role: Role;
  createdAt: number;
  disabled: boolean;
}

export function userView(user: UserRecord): UserView {
  return { name: user.name, role: user.role, createdAt: user.createdAt, disabled: user.disabled };
}

/** Letters, digits and . _ @ - ; it appears in URLs (/api/users/:name) and as `by` of resolutions. */
export const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export function checkUserName(name: string): void {
  if (!USER_NAME.test(name)) {
    throw new VigilError('VIGIL_API_BAD_REQUEST', `name: "${name}" is not a valid user name (1-64 letters, digits, . _ @ -, starting with a letter or digit)`);
  }
}

export function checkPassword(password: string): void {
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    throw new VigilError('VIGIL_API_BAD_REQUEST', `password: must be at least ${MIN_PASSWORD_LENGTH} characters long`);
  }
}

export async function createUser(storage: HubStorage, name: string, role: Role, password: string, now = Date.now()): Promise<UserRecord> {
  checkUserName(name);
  checkPassword(password);
  const user: UserRecord = { name, role, passwordHash: await hashPassword(password), createdAt: now, updatedAt: now, disabled: false };
  await storage.createUser(user);
  return user;
}

export interface UserChange {
  role?: Role | undefined;
  password?: string | undefined;
  disabled?: boolean | undefined;
}

/** Applies a change; VIGIL_API_NOT_FOUND for an unknown user, VIGIL_API_CONFLICT when it would leave no enabled admin. */
export async function changeUser(storage: HubStorage, name: string, change: UserChange, now = Date.now()): Promise<UserRecord> {
  const user = await findUser(storage, name);
  if (change.password !== undefined) checkPassword(change.password);
  const staysAdmin = (change.role ?? user.role) === 'admin' && !(change.disabled ?? user.disabled);
  if (!staysAdmin) await keepAnAdmin(storage, user, change.role !== undefined && change.role !== 'admin' ? `make ${name} ${change.role}` : `disable ${name}`);
  const passwordHash = change.password === undefined ? undefined : await hashPassword(change.password);
  const updated = await storage.updateUser(name, { role: change.role, disabled: change.disabled, passwordHash, updatedAt: now });
  if (!updated) throw notFound(name);
  // A new password or a disabled account ends every login made before.
  if (passwordHash !== undefined || change.disabled === true) await storage.deleteUserSessions(name);
  return updated;
}

export async function removeUser(storage: HubStorage, name: string): Promise<void> {
  const user = await findUser(storage, name);
  await keepAnAdmin(storage, user, `remove ${name}`);
  if (!(await storage.deleteUser(name))) throw notFound(name);
}

async function findUser(storage: HubStorage, name: string): Promise<UserRecord> {
  const user = await storage.getUser(name);
  if (!user) throw notFound(name);
  return user;
}

/** Refuses when `user` is the only enabled admin (a change that keeps it one is never checked). */
async function keepAnAdmin(storage: HubStorage, user: UserRecord, what: string): Promise<void> {
  if (user.role !== 'admin' || user.disabled) return;
  const admins = (await storage.listUsers()).filter((u) => u.role === 'admin' && !u.disabled);
  if (admins.length <= 1) throw new VigilError('VIGIL_API_CONFLICT', `cannot ${what}: ${user.name} is the only enabled admin; make another user admin first`);
}

function notFound(name: string): VigilError {
  return new VigilError('VIGIL_API_NOT_FOUND', `there is no user ${name}`);
}
