import type pg from 'pg';
import { VigilError } from '../../shared/errors.js';
import { newAgentRecord, type AgentPresencePatch, type AgentRecord, type ApiTokenRecord } from './hub-storage.js';
import { run } from './postgres-sql.js';

/**
 * Agents and API tokens: jsonb documents keyed by id. A presence patch is a
 * jsonb merge in one UPDATE (undefined fields vanish in JSON, null clears),
 * so replicas updating one agent never lose each other's fields.
 */
export class PostgresAgents {
  constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
  ) {}

  async create(agent: Pick<AgentRecord, 'id' | 'labels' | 'tokenHash' | 'tokenSalt' | 'createdAt'>): Promise<void> {
    const record = newAgentRecord(agent);
    const result = await run(this.pool, 'creating an agent', `INSERT INTO ${this.s}.agents (id, doc) VALUES ($1, $2::jsonb) ON CONFLICT (id) DO NOTHING`, [
      agent.id,
      JSON.stringify(record),
    ]);
    if (result.rowCount === 0) throw new VigilError('VIGIL_API_CONFLICT', `agent ${agent.id} exists already`);
  }

  async get(id: string): Promise<AgentRecord | undefined> {
    const result = await run<{ doc: AgentRecord }>(this.pool, 'reading an agent', `SELECT doc FROM ${this.s}.agents WHERE id = $1`, [id]);
    return result.rows[0]?.doc;
  }

  /** In id order. */
  async list(): Promise<AgentRecord[]> {
    const result = await run<{ doc: AgentRecord }>(this.pool, 'listing agents', `SELECT doc FROM ${this.s}.agents ORDER BY id`);
    return result.rows.map((r) => r.doc);
  }

  /** Merges `patch` into the agent; false when there is no such agent. */
  async patch(id: string, patch: Partial<AgentRecord> | AgentPresencePatch, doing: string): Promise<boolean> {
    const result = await run(this.pool, doing, `UPDATE ${this.s}.agents SET doc = doc || $2::jsonb WHERE id = $1`, [id, JSON.stringify(patch)]);
    return result.rowCount === 1;
  }

  async createToken(token: ApiTokenRecord): Promise<void> {
    const result = await run(
      this.pool,
      'creating an API token',
      `INSERT INTO ${this.s}.api_tokens (id, created_at, doc) VALUES ($1, $2, $3::jsonb) ON CONFLICT (id) DO NOTHING`,
      [token.id, token.createdAt, JSON.stringify(token)],
    );
    if (result.rowCount === 0) throw new VigilError('VIGIL_API_CONFLICT', `API token ${token.id} exists already`);
  }

  async getToken(id: string): Promise<ApiTokenRecord | undefined> {
    const result = await run<{ doc: ApiTokenRecord }>(this.pool, 'reading an API token', `SELECT doc FROM ${this.s}.api_tokens WHERE id = $1`, [id]);
    return result.rows[0]?.doc;
  }

  /** Oldest first. */
  async listTokens(): Promise<ApiTokenRecord[]> {
    const result = await run<{ doc: ApiTokenRecord }>(this.pool, 'listing API tokens', `SELECT doc FROM ${this.s}.api_tokens ORDER BY created_at, id`);
    return result.rows.map((r) => r.doc);
  }

  async revokeToken(id: string, at: number): Promise<boolean> {
    const result = await run(this.pool, 'revoking an API token', `UPDATE ${this.s}.api_tokens SET doc = doc || $2::jsonb WHERE id = $1`, [
      id,
      JSON.stringify({ revokedAt: at }),
    ]);
    return result.rowCount === 1;
  }
}
