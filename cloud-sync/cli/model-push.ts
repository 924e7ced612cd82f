import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { describeError } from '../../shared/errors.js';
import type { ModelVersionRecord } from '../storage/hub-storage.js';
import { addHubConnectionOptions, callHubApi, failureLine, resolveHubConnection, type HubConnectionOptions } from './hub-api-client.js';

type Out = (line: string) => void;

/** Adds `vigil model push <package>` to the `vigil model` command. */
export function addModelPushCommand(model: Command): void {
  addHubConnectionOptions(
    model
      .command('push')
      .description("Upload a model package to the hub's registry; the hub checks it, signs it and keeps it (versions are immutable).")
      .argument('<package>', 'the package file (*.vmodel, from vigil model pack)'),
  )
    .addHelpText('after', '\nNeeds an admin API token. Exit code 0 when stored, 1 with the hub\'s error code and reason.')
    .action(async (file: string, opts: HubConnectionOptions) => {
      process.exitCode = await runModelPush(file, opts, (line) => process.stdout.write(line + '\n'));
    });
}

/** Uploads one package; returns the exit code. */
export async function runModelPush(file: string, opts: HubConnectionOptions, out: Out, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    out(`✖ cannot read ${file}: ${describeError(err)}`);
    return 1;
  }
  try {
    const conn = await resolveHubConnection(opts, env);
    const record = (await callHubApi(conn, 'POST', '/api/models', { bytes })) as ModelVersionRecord;
    out(`✔ ${record.name}@${record.version} stored and signed by ${conn.url} (${formatSize(record.size)}; sha256 ${record.sha256.slice(0, 12)}…)`);
    out(`  deploy it with: vigil hub deploy ${record.name} ${record.version} --agent <id> | --label <key=value>`);
    return 0;
  } catch (err) {
    out(failureLine(err));
    return 1;
  }
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
