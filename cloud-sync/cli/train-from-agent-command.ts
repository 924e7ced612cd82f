import { InvalidArgumentError, type Command } from 'commander';
import type { ModelVersionRecord } from '../storage/hub-storage.js';
import { addHubConnectionOptions, failureLine, resolveHubConnection, type HubConnection, type HubConnectionOptions } from './hub-api-client.js';
import { parseDuration } from './parse-duration.js';
import { trainOnHub } from './train-on-hub.js';

type Out = (line: string) => void;

export interface TrainFromAgentOptions extends HubConnectionOptions {
  agent: string;
  tags: string[];
  from?: number;
  to?: number;
  /** The period ending now, ms (instead of --from / --to). */
  last?: number;
  name: string;
  version?: string;
  periodMs: number;
  window?: number;
  hop?: number;
  description?: string;
  maxFilledShare?: number;
  fillMaxAge?: number;
  /** The training method's parameters, as `vigil model train` takes them. */
  features?: string[];
  margin?: number;
  quantile?: number;
  varianceShare?: number;
}

/** What POST /api/models/train answers (the parts printed). */
export interface TrainFromAgentResult {
  record: ModelVersionRecord;
  thresholds: { warn: number; alarm: number };
  calibration: { fitWindows: number; heldOutWindows: number; heldOutQuantileScore: number; heldOutMaxScore: number };
  windows: { sufficient: number; insufficient: number };
  samples: Record<string, number>;
}

/** ISO 8601 or ms since the epoch. */
function parseTime(text: string): number {
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw new InvalidArgumentError(`"${text}" is not a time; give ISO 8601 (2026-03-01T08:00:00Z) or ms since the epoch`);
  return ms;
}

const shareOf = (text: string): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`"${text}" is not a share between 0 and 1`);
  return n;
};

const positiveNumber = (text: string): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`"${text}" is not a number above 0`);
  return n;
};

const list = (text: string): string[] => text.split(',').map((t) => t.trim()).filter((t) => t.length > 0);

const positiveInt = (text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`"${text}" is not a positive whole number`);
  return n;
};

/** Adds `vigil hub train` to the `vigil hub` command. Light imports only: `vigil --help` must not load the hub. */
export function addTrainFromAgentCommand(hub: Command): void {
  addHubConnectionOptions(
    hub
      .command('train')
      .description("Learn normal behaviour from an agent's raw history: the hub fetches the tags over the period from the (online) agent, trains a model, and registers and signs it as a new version.")
      .requiredOption('--agent <id>', 'the agent (gateway) whose history to learn from')
      .requiredOption('--tags <list>', 'comma-separated tags', list)
      .option('--from <time>', 'start of the period of normal operation (ISO 8601 or ms since the epoch)', parseTime)
      .option('--to <time>', 'end of the period', parseTime)
      .option('--last <duration>', 'the period ending now, e.g. 40s, 2h, 1d (instead of --from/--to)', parseDuration)
      .requiredOption('--name <model>', 'model name')
      .option('--version <version>', 'the new version (default 1.0.0, or the next free minor version)')
      .requiredOption('--period-ms <ms>', 'sample period of the model, ms', positiveInt)
      .option('--window <samples>', 'window length in samples (default 30)', positiveInt)
      .option('--hop <samples>', 'windows start every this many samples (default 1)', positiveInt)
      .option('--description <text>', 'what the model watches')
      .option('--max-filled-share <share>', 'windows with more forward-filled cells (0–1) are insufficient data (default 0.2; raise it for tags that update slower than --period-ms)', shareOf)
      .option('--fill-max-age <duration>', 'a cell without a sample takes the last value at most this old (default 3 × the sample period)', parseDuration)
      .option('--features <list>', 'per-tag window features: mean, spread (default mean)', list)
      .option('--margin <factor>', 'alarm threshold = held-out quantile × this (default 2.5)', positiveNumber)
      .option('--quantile <q>', 'quantile of the held-out scores, 0..1 (default 0.99)', positiveNumber)
      .option('--variance-share <share>', 'PCA keeps the components explaining this share, 0..1 (default 0.95)', positiveNumber),
  )
    .addHelpText('after', '\nNeeds an admin API token. Progress goes to stderr while the hub works (every few seconds), the result to stdout. Try the new version in shadow first: vigil hub deploy <model> <version> --agent <id> --shadow 1h')
    .action(async (opts: TrainFromAgentOptions) => {
      process.exitCode = await runTrainFromAgent(opts, (line) => process.stdout.write(line + '\n'), (line) => process.stderr.write(line + '\n'));
    });
}

/** Starts the training as a job on the hub and follows it: progress lines to `progress`, the result (or the failure) to `print`. */
export async function runTrainFromAgent(opts: TrainFromAgentOptions, print: Out, progress: Out, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    const { result } = await trainFromAgent(opts, progress, env);
    for (const line of resultLines(result)) print(line);
    return 0;
  } catch (err) {
    print(failureLine(err));
    return 1;
  }
}

/** The hub trains from the agent's history and registers the version; throws what went wrong. */
export async function trainFromAgent(opts: TrainFromAgentOptions, progress: Out, env: NodeJS.ProcessEnv = process.env): Promise<{ conn: HubConnection; result: TrainFromAgentResult }> {
  const period = periodOf(opts);
  const conn = await resolveHubConnection(opts, env);
  const body = {
    agent: opts.agent,
    tags: opts.tags,
    ...period,
    name: opts.name,
    samplePeriodMs: opts.periodMs,
    ...(opts.version ? { version: opts.version } : {}),
    ...(opts.window ? { windowLength: opts.window } : {}),
    ...(opts.hop ? { hop: opts.hop } : {}),
    ...(opts.description ? { description: opts.description } : {}),
    ...missingDataOf(opts),
    ...methodOf(opts),
  };
  progress(`fetching ${opts.tags.length} tag(s) from ${opts.agent}, ${new Date(period.from).toISOString()} – ${new Date(period.to).toISOString()}, and training on the hub…`);
  return { conn, result: (await trainOnHub(conn, '/api/models/train', body, progress)) as TrainFromAgentResult };
}

function missingDataOf(opts: TrainFromAgentOptions): { missingData?: { maxFilledShare?: number; forwardFillMaxAgeMs?: number } } {
  if (opts.maxFilledShare === undefined && opts.fillMaxAge === undefined) return {};
  return { missingData: { ...(opts.maxFilledShare !== undefined ? { maxFilledShare: opts.maxFilledShare } : {}), ...(opts.fillMaxAge !== undefined ? { forwardFillMaxAgeMs: opts.fillMaxAge } : {}) } };
}

function methodOf(opts: TrainFromAgentOptions): { method?: { features?: string[]; margin?: number; quantile?: number; varianceShare?: number } } {
  const method = {
    ...(opts.features ? { features: opts.features } : {}),
    ...(opts.margin !== undefined ? { margin: opts.margin } : {}),
    ...(opts.quantile !== undefined ? { quantile: opts.quantile } : {}),
    ...(opts.varianceShare !== undefined ? { varianceShare: opts.varianceShare } : {}),
  };
  return Object.keys(method).length === 0 ? {} : { method };
}

function periodOf(opts: TrainFromAgentOptions): { from: number; to: number } {
  if (opts.last !== undefined) {
    if (opts.from !== undefined || opts.to !== undefined) throw new InvalidArgumentError('give either --last or --from/--to, not both');
    const to = Date.now();
    return { from: to - opts.last, to };
  }
  if (opts.from === undefined) throw new InvalidArgumentError('give the period: --from <time> [--to <time>] or --last <duration>');
  return { from: opts.from, to: opts.to ?? Date.now() };
}

export function resultLines(result: TrainFromAgentResult): string[] {
  const { record, thresholds, calibration: c, windows } = result;
  const samples = Object.entries(result.samples).map(([tag, n]) => `${tag} ${n}`).join(', ');
  return [
    `✔ trained ${record.name}@${record.version} (registered and signed, sha256 ${record.sha256.slice(0, 12)}…)`,
    `  data          ${samples}`,
    `  windows       ${windows.sufficient} fitted${windows.insufficient ? `, ${windows.insufficient} left out for missing data` : ''}`,
    `  thresholds    warn ≥ ${thresholds.warn}, alarm ≥ ${thresholds.alarm}  (calibrated on ${c.heldOutWindows} held-out windows; highest held-out score ${c.heldOutMaxScore.toFixed(3)})`,
    `  try it in shadow first: vigil hub deploy ${record.name} ${record.version} --agent <id> --shadow 1h`,
  ];
}
