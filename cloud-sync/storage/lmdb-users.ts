import type { Database, RootDatabase } from 'lmdb';
import { VigilError } from '../../shared/errors.js';
import type { SessionRecord, UserRecord } from './hub-storage.js';
import { durableWrite } from './lmdb-layout.js';
import { mergePatch } from './merge-patch.js';

type UserPatch = Partial<Pick<UserRecord, 'role' | 'passwordHash' | 'disabled' | 'updatedAt'>>;

/**
 * Web app users and their sessions, in two sub-databases of their own
 * (`users`: name → record, `sessions`: sha256 of the session id → record).
 * Sessions are few (one per person and browser), so ending the sessions of
 * one user scans them instead of keeping a second index.
 */
export class LmdbUsers {
  private readonly users: Database<UserRecord, string>;
  private readonly sessions: Database<SessionRecord, string>;

  constructor(private readonly env: RootDatabase) {
    this.users = env.openDB({ name: 'users' });
    this.sessions = env.openDB({ name: 'sessions' });
  }

  createUser(user: UserRecord): Promise<void> {
    return durableWrite(this.env, () => {
      if (this.users.doesExist(user.name)) throw new VigilError('VIGIL_API_CONFLICT', `a user ${user.name} exists already`);
      this.users.putSync(user.name, user);
    });
  }

  getUser(name: string): UserRecord | undefined {
    return this.users.get(name);
  }

  listUsers(): UserRecord[] {
    return [...this.users.getRange({})].map(({ value }) => value);
  }

  updateUser(name: string, patch: UserPatch): Promise<UserRecord | undefined> {
    return durableWrite(this.env, () => {
      const user = this.users.get(name);
      if (!user) return undefined;
      const changed = mergePatch(user, patch);
      this.users.putSync(name, changed);
      return changed;
    });
  }

  deleteUser(name: string): Promise<boolean> {
    return durableWrite(this.env, () => {
      if (!this.users.doesExist(name)) return false;
      this.users.removeSync(name);
      this.removeSessionsWhere((s) => s.user === name);
      return true;
    });
  }

  createSession(session: SessionRecord): Promise<void> {
    return durableWrite(this.env, () => {
      if (this.sessions.doesExist(session.idHash)) throw new VigilError('VIGIL_API_CONFLICT', 'a session with this id exists already');
      this.sessions.putSync(session.idHash, session);
    });
  }

  getSession(idHash: string): SessionRecord | undefined {
    return this.sessions.get(idHash);
  }

  touchSession(idHash: string, lastSeenAt: number): Promise<void> {
    return durableWrite(this.env, () => {
      const session = this.sessions.get(idHash);
      if (session && session.lastSeenAt < lastSeenAt) this.sessions.putSync(idHash, { ...session, lastSeenAt });
    });
  }

  deleteSession(idHash: string): Promise<boolean> {
    return durableWrite(this.env, () => {
      if (!this.sessions.doesExist(idHash)) return false;
      this.sessions.removeSync(idHash);
      return true;
    });
  }

  deleteUserSessions(user: string): Promise<number> {
    return durableWrite(this.env, () => this.removeSessionsWhere((s) => s.user === user));
  }

  deleteIdleSessions(lastSeenBefore: number): Promise<number> {
    return durableWrite(this.env, () => this.removeSessionsWhere((s) => s.lastSeenAt < lastSeenBefore));
  }

  /** Inside a write transaction. */
  private removeSessionsWhere(matches: (session: SessionRecord) => boolean): number {
    const doomed = [...this.sessions.getRange({})].filter(({ value }) => matches(value)).map(({ key }) => key);
    for (const key of doomed) this.sessions.removeSync(key);
    return doomed.length;
  }
}
