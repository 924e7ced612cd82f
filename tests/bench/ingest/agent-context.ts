import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SamplePipeline } from '../../../agent/pipeline/sample-pipeline.js';
import type { SourceContext } from '../../../agent/sources/source.js';
import { TagTable, type ConfiguredTag } from '../../../agent/tags/tag-table.js';
import { AgentConfigSchema } from '../../../agent/config/schema.js';

/**
 * The agent's data path as `agent/service/start-agent.ts` wires it —
 * source → SamplePipeline → TagTable.consume — without HTTP, so the measured
 * process does exactly the ingestion work and nothing else.
 */
export interface AgentPath {
  pipeline: SamplePipeline;
  tags: TagTable;
  ctx: SourceContext;
  /** Removes the temporary data folder. */
  dispose(): void;
}

export function createAgentPath(configured: readonly ConfiguredTag[]): AgentPath {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-bench-agent-'));
  // Same default capacity as a real agent: the benchmark must not flatter it.
  const capacity = AgentConfigSchema.parse({ agent: { id: 'bench' } }).pipeline.capacity;
  const tags = new TagTable();
  tags.configure(configured);
  const pipeline = new SamplePipeline(capacity);
  pipeline.subscribe(tags.consume);
  // Warnings and errors go to stderr, so a misbehaving source is visible in the benchmark output.
  const log = pino({ level: 'warn', base: { role: 'bench-agent' } }, pino.destination(2));
  return {
    pipeline,
    tags,
    ctx: { agentId: 'bench', dataDir, sink: pipeline, status: tags, log },
    dispose: () => rmSync(dataDir, { recursive: true, force: true }),
  };
}
