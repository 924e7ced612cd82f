import type pg from 'pg';
import { VigilError } from '../../shared/errors.js';
import type { SessionRecord, UserRecord } from './hub-storage.js';
import { run } from './postgres-sql.js';

type UserPatch = Partial<Pick<UserRecord, 'role' | 'passwordHash' | 'disabled' | 'updatedAt'>>;

/** Web app users and their sessions (keyed by the sha256 of the session id; the id itself is never stored). */
export class PostgresUsers {
  constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
  ) {}

  async createUser(user: UserRecord): Promise<void> {
    const result = await run(this.pool, 'creating a user', `INSERT INTO ${this.s}.users (name, doc) VALUES ($1, $2::jsonb) ON CONFLICT (name) DO NOTHING`, [
      user.name,
      JSON.stringify(user),
    ]);
    if (result.rowCount === 0) throw new VigilError('VIGIL_API_CONFLICT', `a user ${user.name} exists already`);
  }

  async getUser(name: string): Promise<UserRecord | undefined> {
    const result = await run<{ doc: UserRecord }>(this.pool, 'reading a user', `SELECT doc FROM ${this.s}.users WHERE name = $1`, [name]);
    return result.rows[0]?.doc;
  }

  async listUsers(): Promise<UserRecord[]> {
    const result = await run<{ doc: UserRecord }>(this.pool, 'listing users', `SELECT doc FROM ${this.s}.users ORDER BY name`);
    return result.rows.map((r) => r.doc);
  }

  async updateUser(name: string, patch: UserPatch): Promise<UserRecord | undefined> {
    const result = await run<{ doc: UserRecord }>(
      this.pool,
      'updating a user',
      `UPDATE ${this.s}.users SET doc = doc || $2::jsonb WHERE name = $1 RETURNING doc`,
      [name, JSON.stringify(patch)],
    );
    return result.rows[0]?.doc;
  }

  /** The user and their sessions in one statement. */
  async deleteUser(name: string): Promise<boolean> {
    const result = await run<{ name: string }>(
      this.pool,
      'deleting a user',
      `WITH gone AS (DELETE FROM ${this.s}.users WHERE name = $1 RETURNING name),
            sessions AS (DELETE FROM ${this.s}.sessions WHERE user_name IN (SELECT name FROM gone))
       SELECT name FROM gone`,
      [name],
    );
    return result.rows.length > 0;
  }

  async createSession(session: SessionRecord): Promise<void> {
    const result = await run(
      this.pool,
      'creating a session',
      `INSERT INTO ${this.s}.sessions (id_hash, user_name, last_seen_at, doc) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (id_hash) DO NOTHING`,
      [session.idHash, session.user, session.lastSeenAt, JSON.stringify(session)],
    );
    if (result.rowCount === 0) throw new VigilError('VIGIL_API_CONFLICT', 'a session with this id exists already');
  }

  async getSession(idHash: string): Promise<SessionRecord | undefined> {
    const result = await run<{ doc: SessionRecord }>(this.pool, 'reading a session', `SELECT doc FROM ${this.s}.sessions WHERE id_hash = $1`, [idHash]);
    return result.rows[0]?.doc;
  }

  /** Only forward: the condition is in the UPDATE, so replicas racing cannot move it back. */
  async touchSession(idHash: string, lastSeenAt: number): Promise<void> {
    await run(
      this.pool,
      'touching a session',
      `UPDATE ${this.s}.sessions SET last_seen_at = $2, doc = jsonb_set(doc, '{lastSeenAt}', to_jsonb($2::bigint))
       WHERE id_hash = $1 AND last_seen_at < $2`,
      [idHash, lastSeenAt],
    );
  }

  async deleteSession(idHash: string): Promise<boolean> {
    const result = await run(this.pool, 'deleting a session', `DELETE FROM ${this.s}.sessions WHERE id_hash = $1`, [idHash]);
    return (result.rowCount ?? 0) > 0;
  }

  async deleteUserSessions(user: string): Promise<number> {
    const result = await run(this.pool, "deleting a user's sessions", `DELETE FROM ${this.s}.sessions WHERE user_name = $1`, [user]);
    return result.rowCount ?? 0;
  }

  async deleteIdleSessions(lastSeenBefore: number): Promise<number> {
    const result = await run(this.pool, 'deleting idle sessions', `DELETE FROM ${this.s}.sessions WHERE last_seen_at < $1`, [lastSeenBefore]);
    return result.rowCount ?? 0;
  }
}
