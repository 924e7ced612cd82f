import { InvalidArgumentError, type Command } from 'commander';
import type { DeployRequest, DeploymentView } from '../deployments/deployer.js';
import { addHubConnectionOptions, callHubApi, failureLine, resolveHubConnection, type HubConnection, type HubConnectionOptions } from './hub-api-client.js';
import { deploymentLines, deploymentListLines, type DeploymentSummary } from './deployment-output.js';
import { parseDuration } from './parse-duration.js';

type Out = (line: string) => void;

const out: Out = (line) => process.stdout.write(line + '\n');

export interface DeployOptions extends HubConnectionOptions {
  agent?: string[];
  label?: Record<string, string>;
  /** Shadow period, ms (parsed from 30s, 10m, 2h …). */
  shadow?: number;
  canary?: number;
}

/** Adds `vigil hub deploy`, `vigil hub deployments` and `vigil hub rollback` to the `vigil hub` command. */
export function addDeploymentCommands(hub: Command): void {
  addHubConnectionOptions(
    hub
      .command('deploy')
      .description('Deploy a model version from the registry to agents chosen by id and/or label, optionally shadowed first and staged (canary).')
      .argument('<model>', 'model name')
      .argument('<version>', 'version in the registry (vigil model push)')
      .option('--agent <id>', 'an agent to deploy to (repeatable)', (id: string, ids: string[] | undefined) => [...(ids ?? []), id])
      .option('--label <key=value>', 'deploy to agents carrying this label (repeatable; all must match)', collectLabel)
      .option('--shadow <duration>', 'score beside the active version this long (30s, 10m, 2h), then activate', parseDuration)
      .option('--canary <n>', 'deploy to the first n agents (by id) first; the rest once those run it', positiveInt),
  )
    .addHelpText('after', '\nNeeds an admin API token. Follow progress with `vigil hub deployments <id>`; undo with `vigil hub rollback <id>`.')
    .action(async (model: string, version: string, opts: DeployOptions) => {
      process.exitCode = await runDeploy(model, version, opts, out);
    });

  addHubConnectionOptions(
    hub
      .command('deployments')
      .description('List deployments (newest first), or show one with the status of each agent.')
      .argument('[id]', 'a deployment id: show it agent by agent')
      .option('--model <name>', 'only deployments of this model')
      .option('--agent <id>', 'only deployments to this agent'),
  ).action(async (id: string | undefined, opts: HubConnectionOptions & { model?: string; agent?: string }) => {
    process.exitCode = await runDeployments(id, opts, out);
  });

  addHubConnectionOptions(
    hub
      .command('rollback')
      .description("Roll a deployment back: every agent it reached gets its previous version again, activated.")
      .argument('<deployment>', 'deployment id')
      .option('--reason <text>', 'why, kept with the deployment'),
  )
    .addHelpText('after', '\nNeeds an admin API token. Agents that had no previous version keep the deployed one (there is nothing to return to); the result says which.')
    .action(async (deployment: string, opts: HubConnectionOptions & { reason?: string }) => {
      process.exitCode = await runRollback(deployment, opts, out);
    });
}

export async function runDeploy(model: string, version: string, opts: DeployOptions, print: Out, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const request: DeployRequest = {
    model,
    version,
    ...(opts.agent ? { agents: opts.agent } : {}),
    ...(opts.label ? { labels: opts.label } : {}),
    ...(opts.shadow !== undefined ? { mode: 'shadow' as const, shadowMs: opts.shadow } : {}),
    ...(opts.canary !== undefined ? { canary: opts.canary } : {}),
  };
  return withHub(opts, env, print, async (conn) => {
    const view = (await callHubApi(conn, 'POST', '/api/deployments', { json: request })) as DeploymentView;
    print(`✔ deploying ${view.model}@${view.version} to ${view.targets.length} agent${view.targets.length === 1 ? '' : 's'}`);
    for (const line of deploymentLines(view, Date.now())) print(line);
  });
}

export async function runDeployments(id: string | undefined, opts: HubConnectionOptions & { model?: string; agent?: string }, print: Out, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return withHub(opts, env, print, async (conn) => {
    if (id !== undefined) {
      const view = (await callHubApi(conn, 'GET', `/api/deployments/${encodeURIComponent(id)}`)) as DeploymentView;
      for (const line of deploymentLines(view, Date.now())) print(line);
      return;
    }
    const query = new URLSearchParams();
    if (opts.model) query.set('model', opts.model);
    if (opts.agent) query.set('agent', opts.agent);
    const suffix = query.size > 0 ? `?${query}` : '';
    const { deployments } = (await callHubApi(conn, 'GET', `/api/deployments${suffix}`)) as { deployments: DeploymentSummary[] };
    for (const line of deploymentListLines(deployments)) print(line);
  });
}

export async function runRollback(deployment: string, opts: HubConnectionOptions & { reason?: string }, print: Out, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return withHub(opts, env, print, async (conn) => {
    const body = opts.reason !== undefined ? { json: { reason: opts.reason } } : undefined;
    const view = (await callHubApi(conn, 'POST', `/api/deployments/${encodeURIComponent(deployment)}/rollback`, body)) as DeploymentView;
    const returning = view.targets.filter((t) => t.status !== 'rolled_back');
    print(`✔ rolling back ${deployment}: ${returning.length} agent${returning.length === 1 ? '' : 's'} return${returning.length === 1 ? 's' : ''} to the previous version`);
    for (const t of view.targets.filter((t) => t.status === 'rolled_back')) print(`  ! ${t.agent}: ${t.reason ?? 'not rolled back'}; if it took ${view.model}@${t.previousVersion ?? '?'}, it keeps it`);
    for (const line of deploymentLines(view, Date.now())) print(line);
  });
}

/** Resolves the hub connection, runs `action`, and turns any failure into its line and exit code 1. */
async function withHub(opts: HubConnectionOptions, env: NodeJS.ProcessEnv, print: Out, action: (conn: HubConnection) => Promise<void>): Promise<number> {
  try {
    await action(await resolveHubConnection(opts, env));
    return 0;
  } catch (err) {
    print(failureLine(err));
    return 1;
  }
}

function collectLabel(text: string, labels: Record<string, string> | undefined): Record<string, string> {
  const at = text.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`expected key=value, got "${text}"`);
  return { ...labels, [text.slice(0, at)]: text.slice(at + 1) };
}

function positiveInt(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a whole number of agents ≥ 1, got "${text}"`);
  return n;
}
