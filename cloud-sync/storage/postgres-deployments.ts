import type pg from 'pg';
import { VigilError } from '../../shared/errors.js';
import type { DeploymentRecord, DeploymentTarget } from './hub-storage.js';
import { Conditions, inTransaction, run } from './postgres-sql.js';

type DeploymentPatch = Partial<Pick<DeploymentRecord, 'state' | 'reason' | 'updatedAt'>>;
type TargetPatch = Partial<Pick<DeploymentTarget, 'status' | 'reason' | 'shadowUntil' | 'updatedAt'>>;

/**
 * Deployments and their per-agent targets. Records are jsonb documents beside
 * the columns that are looked up or sorted on; a patch is a jsonb merge
 * (`doc || patch`) in one UPDATE, so two replicas patching different fields
 * of one target do not lose each other's change.
 */
export class PostgresDeployments {
  constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
  ) {}

  /** Rejects with VIGIL_API_CONFLICT when the id exists; the deployment and its targets land together. */
  create(deployment: DeploymentRecord, targets: readonly DeploymentTarget[]): Promise<void> {
    return inTransaction(this.pool, 'creating a deployment', async (client) => {
      const inserted = await client.query(
        `INSERT INTO ${this.s}.deployments (id, model, created_at, doc) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (id) DO NOTHING`,
        [deployment.id, deployment.model, deployment.createdAt, JSON.stringify(deployment)],
      );
      if (inserted.rowCount === 0) throw new VigilError('VIGIL_API_CONFLICT', `deployment ${deployment.id} exists already`);
      if (targets.length === 0) return;
      await client.query(
        `INSERT INTO ${this.s}.targets (deployment, agent, doc) SELECT $1, r.agent, r.doc FROM unnest($2::text[], $3::jsonb[]) AS r(agent, doc)`,
        [deployment.id, targets.map((t) => t.agent), targets.map((t) => JSON.stringify({ ...t, deployment: deployment.id }))],
      );
    });
  }

  async get(id: string): Promise<DeploymentRecord | undefined> {
    const result = await run<{ doc: DeploymentRecord }>(this.pool, 'reading a deployment', `SELECT doc FROM ${this.s}.deployments WHERE id = $1`, [id]);
    return result.rows[0]?.doc;
  }

  /** Newest first; ties (same millisecond) by id, descending. */
  async list(filter: { model?: string; agent?: string; limit?: number } = {}): Promise<DeploymentRecord[]> {
    if (filter.limit !== undefined && filter.limit <= 0) return [];
    const where = new Conditions()
      .addIf(filter.model, (p) => `d.model = ${p}`)
      .addIf(filter.agent, (p) => `EXISTS (SELECT 1 FROM ${this.s}.targets t WHERE t.deployment = d.id AND t.agent = ${p})`);
    const limit = filter.limit === undefined ? '' : `LIMIT ${where.param(filter.limit)}`;
    const result = await run<{ doc: DeploymentRecord }>(
      this.pool,
      'listing deployments',
      `SELECT d.doc FROM ${this.s}.deployments d ${where.where} ORDER BY d.created_at DESC, d.id DESC ${limit}`,
      where.values,
    );
    return result.rows.map((r) => r.doc);
  }

  /** Rejects with VIGIL_API_NOT_FOUND when there is no such deployment. */
  async update(id: string, patch: DeploymentPatch): Promise<void> {
    const result = await run(this.pool, 'updating a deployment', `UPDATE ${this.s}.deployments SET doc = doc || $2::jsonb WHERE id = $1`, [
      id,
      JSON.stringify(patch),
    ]);
    if (result.rowCount === 0) throw new VigilError('VIGIL_API_NOT_FOUND', `no deployment ${id}`);
  }

  /** In agent id order. */
  async targets(deployment: string): Promise<DeploymentTarget[]> {
    const result = await run<{ doc: DeploymentTarget }>(
      this.pool,
      'listing deployment targets',
      `SELECT doc FROM ${this.s}.targets WHERE deployment = $1 ORDER BY agent`,
      [deployment],
    );
    return result.rows.map((r) => r.doc);
  }

  /** Newest deployment first. */
  async targetsOfAgent(agent: string): Promise<DeploymentTarget[]> {
    const result = await run<{ doc: DeploymentTarget }>(
      this.pool,
      "listing an agent's deployment targets",
      `SELECT t.doc FROM ${this.s}.targets t JOIN ${this.s}.deployments d ON d.id = t.deployment
       WHERE t.agent = $1 ORDER BY d.created_at DESC, d.id DESC`,
      [agent],
    );
    return result.rows.map((r) => r.doc);
  }

  /** Rejects with VIGIL_API_NOT_FOUND when the agent is not a target of the deployment. */
  async updateTarget(deployment: string, agent: string, patch: TargetPatch): Promise<void> {
    const result = await run(
      this.pool,
      'updating a deployment target',
      `UPDATE ${this.s}.targets SET doc = doc || $3::jsonb WHERE deployment = $1 AND agent = $2`,
      [deployment, agent, JSON.stringify(patch)],
    );
    if (result.rowCount === 0) throw new VigilError('VIGIL_API_NOT_FOUND', `agent ${agent} is not a target of deployment ${deployment}`);
  }
}
