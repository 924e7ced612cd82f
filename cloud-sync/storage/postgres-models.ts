import type pg from 'pg';
import type { ModelVersionRecord } from './hub-storage.js';
import { Conditions, run } from './postgres-sql.js';

/** The model registry: immutable version records, package bytes in a bytea column that lists never select. */
export class PostgresModels {
  constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
  ) {}

  /** 'exists' when name@version is stored: the primary key refuses it, on every replica alike. */
  async put(record: ModelVersionRecord, packageBytes: Uint8Array): Promise<'created' | 'exists'> {
    const bytes = Buffer.from(packageBytes.buffer, packageBytes.byteOffset, packageBytes.byteLength);
    const result = await run(
      this.pool,
      'storing a model version',
      `INSERT INTO ${this.s}.models (name, version, uploaded_at, doc, package) VALUES ($1, $2, $3, $4::jsonb, $5)
       ON CONFLICT (name, version) DO NOTHING`,
      [record.name, record.version, record.uploadedAt, JSON.stringify(record), bytes],
    );
    return result.rowCount === 1 ? 'created' : 'exists';
  }

  async get(name: string, version: string): Promise<ModelVersionRecord | undefined> {
    const result = await run<{ doc: ModelVersionRecord }>(
      this.pool,
      'reading a model version',
      `SELECT doc FROM ${this.s}.models WHERE name = $1 AND version = $2`,
      [name, version],
    );
    return result.rows[0]?.doc;
  }

  async getPackage(name: string, version: string): Promise<Uint8Array | undefined> {
    const result = await run<{ package: Buffer }>(
      this.pool,
      'reading a model package',
      `SELECT package FROM ${this.s}.models WHERE name = $1 AND version = $2`,
      [name, version],
    );
    const bytes = result.rows[0]?.package;
    return bytes === undefined ? undefined : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Oldest upload first (ties: name, then version). */
  async list(name?: string): Promise<ModelVersionRecord[]> {
    const where = new Conditions().addIf(name, (p) => `name = ${p}`);
    const result = await run<{ doc: ModelVersionRecord }>(
      this.pool,
      'listing model versions',
      `SELECT doc FROM ${this.s}.models ${where.where} ORDER BY uploaded_at, name, version`,
      where.values,
    );
    return result.rows.map((r) => r.doc);
  }
}
