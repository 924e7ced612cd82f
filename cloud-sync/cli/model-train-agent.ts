import { readModelPackage } from '../../agent/models/package-file.js';
import { parseTime } from '../training/csv-series.js';
import { downloadFromHub, failureLine, type HubConnectionOptions } from './hub-api-client.js';
import { outputPath, writeAtomically, type TrainCommandOptions } from './train-command.js';
import { resultLines, trainFromAgent } from './train-from-agent-command.js';

type Out = (line: string) => void;

export interface ModelTrainFromAgentOptions extends TrainCommandOptions, HubConnectionOptions {
  agent: string;
  /** The period ending now, ms (instead of --from / --to). */
  last?: number;
}

/**
 * `vigil model train --agent <id> …`: the same training as from CSV, on the
 * raw history an agent holds for the period. The hub fetches it from the
 * agent and trains (so the version is also registered and signed there), then
 * the package is downloaded to --out like a CSV-trained one — checked as the
 * agent would check it before it is written.
 */
export async function runModelTrainFromAgent(opts: ModelTrainFromAgentOptions, print: Out, progress: Out, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    const onlyCsv = [opts.csv.length > 0 && '--csv', opts.parent && '--parent', (opts.normalExtra?.length ?? 0) > 0 && '--normal-extra'].filter(Boolean);
    if (onlyCsv.length > 0) throw new Error(`${onlyCsv.join(', ')} read files; --agent trains from the agent's history instead: give one or the other (to retrain with answers use vigil hub retrain)`);
    const missing = [!opts.tags && '--tags', !opts.name && '--name', opts.periodMs === undefined && '--period-ms'].filter(Boolean);
    if (missing.length > 0) throw new Error(`training from an agent needs ${missing.join(', ')} (the agent's history has no columns or grid to take them from)`);
    const { conn, result } = await trainFromAgent(
      {
        ...opts,
        tags: opts.tags!.split(',').map((t) => t.trim()).filter((t) => t !== ''),
        from: timeOf('--from', opts.from),
        to: timeOf('--to', opts.to),
        name: opts.name!,
        periodMs: opts.periodMs!,
        features: opts.features?.split(',').map((f) => f.trim()),
      },
      progress,
    );
    for (const line of resultLines(result)) print(line);
    const { name, version } = result.record;
    const bytes = await downloadFromHub(conn, `/api/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/package`);
    readModelPackage(bytes, `the package the hub built (${name}@${version})`);
    const target = await outputPath(opts.out, `${name}-${version}.vmodel`);
    await writeAtomically(target, bytes);
    print(`  package       ${target} (${bytes.length} bytes, signed by the hub)`);
    return 0;
  } catch (err) {
    print(failureLine(err));
    return 1;
  }
}

function timeOf(option: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseTime(text);
  if (ms === null) throw new Error(`${option} "${text}" is not a time; give an ISO date (UTC unless zoned) or Unix ms`);
  return ms;
}
