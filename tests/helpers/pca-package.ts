import { readFileSync } from 'node:fs';
import { packModel } from '../../agent/models/package-file.js';
import { DEMO_NAMESPACE_URI } from '../../agent/demo/opcua-plant.js';

/** The reference PCA model (input [N,60,4], batch,time,tag; outputs score and contrib). */
export const PCA_ONNX = readFileSync(new URL('../fixtures/models/pca4x60.onnx', import.meta.url));

export interface PcaPackageOptions {
  name: string;
  version: string;
  tags: string[];
  samplePeriodMs: number;
  hop?: number;
  warn?: number;
  alarm?: number;
  manifest?: Record<string, unknown>;
}

/**
 * A manifest (as a user writes it, before validation) that fits the reference
 * PCA model: the input and outputs are fixed, the rest comes from `fields`.
 */
export function pcaManifest(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    format: 'vigil-model/1',
    input: { name: 'window', dtype: 'float32', layout: 'batch,time,tag' },
    samplePeriodMs: 1000,
    windowLength: 60,
    hop: 10,
    output: { score: 'score', contributions: 'contrib' },
    onnx: { file: 'model.onnx' },
    ...fields,
  };
}

/** A package of the reference PCA model watching four agent tags (the tests' stand-in for a trained model). */
export async function pcaPackage(o: PcaPackageOptions): Promise<Buffer> {
  const warn = o.warn ?? 1;
  const manifest = pcaManifest({
    name: o.name,
    version: o.version,
    tags: o.tags,
    samplePeriodMs: o.samplePeriodMs,
    hop: o.hop ?? 10,
    thresholds: { warn, alarm: o.alarm ?? warn * 3 },
    ...o.manifest,
  });
  return (await packModel(PCA_ONNX, manifest)).bytes;
}

export const PUMP1_SIGNALS = ['FlowRate', 'Pressure', 'Temperature', 'Vibration'];
export const PUMP1_TAGS = PUMP1_SIGNALS.map((s) => `pump1.${s.toLowerCase()}`);

/** Inline YAML tag lines for Pump1 of the simulated OPC UA plant (source plc1). */
export function pump1TagLines(samplingIntervalMs: number): string[] {
  return PUMP1_SIGNALS.map(
    (signal) => `  - { name: pump1.${signal.toLowerCase()}, source: plc1, nodeId: "nsu=${DEMO_NAMESPACE_URI};s=Pump1.${signal}", samplingIntervalMs: ${samplingIntervalMs} }`,
  );
}
