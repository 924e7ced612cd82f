import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { addRetrainCommand } from './retrain-command.js';
import { addTrainFromAgentCommand } from './train-from-agent-command.js';

// Registration only: each action imports its module when it runs, so
// `vigil --help` does not load the hub (lmdb, ws, the registry).

const out = (line: string) => process.stdout.write(line + '\n');
const defaultConfig = () => process.env.VIGIL_HUB_CONFIG ?? '/etc/vigil/hub.yaml';
const configOption = () => new Option('-c, --config <file>', 'hub configuration file (YAML); default $VIGIL_HUB_CONFIG or /etc/vigil/hub.yaml').default(defaultConfig());

function collectLabel(text: string, labels: Record<string, string>): Record<string, string> {
  const at = text.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`expected key=value, got "${text}"`);
  return { ...labels, [text.slice(0, at)]: text.slice(at + 1) };
}

/** Adds `vigil hub` (run the hub) and its admin subcommands; returns it so other rooms add theirs. */
export function addHubCommands(program: Command): Command {
  const hub = program
    .command('hub')
    .description('Run the Vigil hub (HTTP API, agent websocket, registry, deployments on one port), or manage its agents and tokens.')
    .addOption(configOption())
    .addHelpText('after', '\nStops gracefully on SIGINT/SIGTERM. Start from config/hub.example.yaml.')
    // `vigil hub agents add x --config f`: --config after a subcommand belongs to the subcommand.
    .enablePositionalOptions()
    .action(async (opts: { config: string }) => {
      const { runHubCommand } = await import('./hub-command.js');
      process.exitCode = await runHubCommand(opts.config);
    });

  hub
    .command('migrate')
    .description('Apply pending PostgreSQL schema migrations now (replicas do it on start unless storage.migrate is manual). Nothing to do on LMDB.')
    .addOption(configOption())
    .action(async (opts: { config: string }) => {
      const { runHubMigrate } = await import('./transfer-commands.js');
      process.exitCode = await runHubMigrate(opts.config, out);
    });
  hub
    .command('export')
    .description('Write everything the hub keeps (agents and token hashes, results, episodes and answers, models, deployments, users, the signing key) to one file, to move a hub, e.g. from LMDB to PostgreSQL. Stop the hub first for a consistent copy.')
    .requiredOption('--out <file>', 'the export file to write (JSON lines)')
    .addOption(configOption())
    .action(async (opts: { out: string; config: string }) => {
      const { runHubExport } = await import('./transfer-commands.js');
      process.exitCode = await runHubExport(opts.config, opts.out, out);
    });
  hub
    .command('import')
    .description("Load a `vigil hub export` file into this configuration's storage, which must be empty (a new PostgreSQL schema or an empty data folder). The file is checked whole before anything is written.")
    .argument('<file>', 'the export file')
    .addOption(configOption())
    .action(async (file: string, opts: { config: string }) => {
      const { runHubImport } = await import('./transfer-commands.js');
      process.exitCode = await runHubImport(opts.config, file, out);
    });

  const agents = hub.command('agents').description("Manage agents: create them with a token, list, revoke, replace a token. Works beside a running hub (it opens the hub's storage).");
  agents
    .command('add')
    .description('Create an agent and print its token once (only a salted hash is kept).')
    .argument('<id>', 'agent id, the same as agent.id in its agent.yaml')
    .option('--label <key=value>', 'a label deployments can select the agent by (repeatable)', collectLabel, {})
    .addOption(configOption())
    .action(async (id: string, opts: { label: Record<string, string>; config: string }) => {
      const { runAgentsAdd } = await import('./agents-commands.js');
      process.exitCode = await runAgentsAdd(id, opts.label, opts.config, out);
    });
  agents
    .command('list')
    .description('List agents: online, last seen, software, backlog, clock skew, labels.')
    .addOption(configOption())
    .action(async (opts: { config: string }) => {
      const { runAgentsList } = await import('./agents-commands.js');
      process.exitCode = await runAgentsList(opts.config, out);
    });
  agents
    .command('revoke')
    .description("Revoke an agent's token: it is refused from now on and disconnected.")
    .argument('<id>', 'agent id')
    .addOption(configOption())
    .action(async (id: string, opts: { config: string }) => {
      const { runAgentsRevoke } = await import('./agents-commands.js');
      process.exitCode = await runAgentsRevoke(id, opts.config, out);
    });
  agents
    .command('token')
    .description('Issue a new token for an agent (the old one stops working; a revoke is lifted) and print it once.')
    .argument('<id>', 'agent id')
    .addOption(configOption())
    .action(async (id: string, opts: { config: string }) => {
      const { runAgentsToken } = await import('./agents-commands.js');
      process.exitCode = await runAgentsToken(id, opts.config, out);
    });

  const tokens = hub.command('tokens').description('Manage API tokens for the command line (vigil model push, vigil hub deploy, the API).');
  tokens
    .command('add')
    .description('Create an API token and print it once.')
    .argument('<name>', 'who or what uses it, e.g. alice or ci')
    .addOption(new Option('--role <role>', 'viewer reads; operator also resolves episodes; admin also uploads, deploys and manages agents').choices(['viewer', 'operator', 'admin']).default('viewer'))
    .addOption(configOption())
    .action(async (name: string, opts: { role: 'viewer' | 'operator' | 'admin'; config: string }) => {
      const { runTokensAdd } = await import('./tokens-commands.js');
      process.exitCode = await runTokensAdd(name, opts.role, opts.config, out);
    });
  tokens
    .command('list')
    .description('List API tokens (never the tokens themselves).')
    .addOption(configOption())
    .action(async (opts: { config: string }) => {
      const { runTokensList } = await import('./tokens-commands.js');
      process.exitCode = await runTokensList(opts.config, out);
    });
  tokens
    .command('revoke')
    .description('Revoke an API token.')
    .argument('<id>', 'token id, as `vigil hub tokens list` shows it')
    .addOption(configOption())
    .action(async (id: string, opts: { config: string }) => {
      const { runTokensRevoke } = await import('./tokens-commands.js');
      process.exitCode = await runTokensRevoke(id, opts.config, out);
    });

  const users = hub
    .command('users')
    .description('Manage web app users (the first admin comes from here). Passwords are read from a file, an environment variable or typed at the terminal, never from the command line.');
  const roleOption = () => new Option('--role <role>', 'viewer reads; operator also resolves episodes; admin also deploys and manages users and agents').choices(['viewer', 'operator', 'admin']);
  const passwordOptions = (command: Command) =>
    command
      .option('--password-file <file>', 'read the password from the first line of this file')
      .option('--password-env <name>', 'read the password from this environment variable');
  passwordOptions(
    users
      .command('add')
      .description('Create a user; the password (at least 12 characters) is typed twice without echo unless --password-file or --password-env is given.')
      .argument('<name>', 'login name: letters, digits, . _ @ -')
      .addOption(roleOption().makeOptionMandatory()),
  )
    .addOption(configOption())
    .action(async (name: string, opts: { role: 'viewer' | 'operator' | 'admin'; passwordFile?: string; passwordEnv?: string; config: string }) => {
      const { runUsersAdd } = await import('./users-commands.js');
      process.exitCode = await runUsersAdd(name, opts.role, opts, opts.config, out);
    });
  users
    .command('list')
    .description('List users: role, created, enabled or disabled (never passwords).')
    .addOption(configOption())
    .action(async (opts: { config: string }) => {
      const { runUsersList } = await import('./users-commands.js');
      process.exitCode = await runUsersList(opts.config, out);
    });
  passwordOptions(users.command('passwd').description("Set a user's password; their open sessions end.").argument('<name>', 'login name'))
    .addOption(configOption())
    .action(async (name: string, opts: { passwordFile?: string; passwordEnv?: string; config: string }) => {
      const { runUsersPasswd } = await import('./users-commands.js');
      process.exitCode = await runUsersPasswd(name, opts, opts.config, out);
    });
  users
    .command('role')
    .description("Change a user's role (the last enabled admin keeps theirs).")
    .argument('<name>', 'login name')
    .addArgument(new Argument('<role>', 'the new role').choices(['viewer', 'operator', 'admin']))
    .addOption(configOption())
    .action(async (name: string, role: 'viewer' | 'operator' | 'admin', opts: { config: string }) => {
      const { runUsersRole } = await import('./users-commands.js');
      process.exitCode = await runUsersRole(name, role, opts.config, out);
    });
  users
    .command('remove')
    .description('Remove a user and end their sessions (not the last enabled admin).')
    .argument('<name>', 'login name')
    .addOption(configOption())
    .action(async (name: string, opts: { config: string }) => {
      const { runUsersRemove } = await import('./users-commands.js');
      process.exitCode = await runUsersRemove(name, opts.config, out);
    });

  hub
    .command('key')
    .description("Print the hub's package signing public key (PEM); agents use it as hub.publicKeyFile.")
    .addOption(configOption())
    .action(async (opts: { config: string }) => {
      const { runHubKey } = await import('./key-command.js');
      process.exitCode = await runHubKey(opts.config, out);
    });
  addRetrainCommand(hub);
  addTrainFromAgentCommand(hub);
  return hub;
}
