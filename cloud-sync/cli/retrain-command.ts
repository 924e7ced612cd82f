import type { Command } from 'commander';
import type { RetrainResult } from '../training/hub-training.js';
import { addHubConnectionOptions, failureLine, resolveHubConnection, type HubConnectionOptions } from './hub-api-client.js';
import { trainOnHub } from './train-on-hub.js';

type Out = (line: string) => void;

export interface RetrainOptions extends HubConnectionOptions {
  /** The new version; default the hub picks the parent's next free patch version. */
  version?: string;
}

/** Adds `vigil hub retrain` to the `vigil hub` command. Light imports only: `vigil --help` must not load the hub. */
export function addRetrainCommand(hub: Command): void {
  addHubConnectionOptions(
    hub
      .command('retrain')
      .description('Retrain a model version on the hub from its episodes answered as normal operation; registers and signs the new version and compares its alarms with the parent on the answered data.')
      .argument('<model>', 'model name')
      .argument('<version>', 'the version whose answered episodes to learn from')
      .option('--version <new>', "the new version (default: the next free patch version, e.g. 1.0.0 → 1.0.1)"),
  )
    .addHelpText('after', '\nNeeds an admin API token. Progress goes to stderr while the hub works (every few seconds), the result to stdout. Try the new version in shadow before switching: vigil hub deploy <model> <new> --agent <id> --shadow 1h')
    .action(async (model: string, version: string, opts: RetrainOptions) => {
      process.exitCode = await runRetrain(model, version, opts, (line) => process.stdout.write(line + '\n'), (line) => process.stderr.write(line + '\n'));
    });
}

/** Starts the retraining as a job on the hub and follows it: progress lines to `progress`, the result (or the failure) to `print`. */
export async function runRetrain(model: string, version: string, opts: RetrainOptions, print: Out, progress: Out, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    const conn = await resolveHubConnection(opts, env);
    const path = `/api/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}/retrain`;
    const result = (await trainOnHub(conn, path, opts.version ? { version: opts.version } : {}, progress)) as RetrainResult;
    for (const line of retrainLines(result)) print(line);
    return 0;
  } catch (err) {
    print(failureLine(err));
    return 1;
  }
}

function retrainLines(result: RetrainResult): string[] {
  const { record, comparison } = result;
  const lines = [
    `✔ retrained ${result.parent} → ${record.name}@${record.version} from ${result.resolutionsUsed} answer${result.resolutionsUsed === 1 ? '' : 's'} (registered and signed, sha256 ${record.sha256.slice(0, 12)}…)`,
  ];
  if (result.data) {
    const { answers, parentSources } = result.data;
    lines.push(`  answers' data: ${answers.rawHistory} from the agents' raw history, ${answers.snapshot} only from the episodes' downsampled snapshots`);
    const kept = parentSources.filter((s) => s.read !== 'missing').length;
    lines.push(`  parent's data read again: ${kept} of ${parentSources.length} source${parentSources.length === 1 ? '' : 's'}`);
    for (const s of parentSources) if (s.note) lines.push(`    ${s.kind} ${s.name}: ${s.note}`);
  }
  if (comparison.comparable) {
    lines.push(`  alarm windows on the answered episodes' data: ${result.parent} ${comparison.parent.alarms} of ${comparison.parent.windows}, ${record.version} ${comparison.candidate.alarms} of ${comparison.candidate.windows}`);
  } else {
    lines.push(`  not compared: ${comparison.reason}`);
  }
  lines.push(`  try it in shadow first: vigil hub deploy ${record.name} ${record.version} --agent <id> --shadow 1h`);
  return lines;
}
