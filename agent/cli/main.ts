import { Command, InvalidArgumentError, Option } from 'commander';
import { VIGIL_VERSION } from '../../shared/version.js';
import { addHubCommands } from '../../cloud-sync/cli/hub-commands.js';
import { addModelPushCommand } from '../../cloud-sync/cli/model-push.js';
import { addDeploymentCommands } from '../../cloud-sync/cli/deploy-commands.js';
import { addHubConnectionOptions } from '../../cloud-sync/cli/hub-api-client.js';
import type { ModelTrainFromAgentOptions } from '../../cloud-sync/cli/model-train-agent.js';
import { parseDuration } from '../../cloud-sync/cli/parse-duration.js';

// Commands are imported when they run: node-opcua alone takes seconds to load,
// and `vigil --help` should answer at once.

const positiveInt = (what: string) => (text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${what} must be a whole number, got "${text}"`);
  return n;
};

const positiveNumber = (what: string) => (text: string) => {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive number, got "${text}"`);
  return n;
};

const collect = (value: string, previous: string[]) => [...previous, value];

const out = (line: string) => process.stdout.write(line + '\n');

const program = new Command()
  .name('vigil')
  .description('Vigil: reads plant sensors over OPC UA and MQTT, scores them with ONNX models, and syncs results and model versions with a central hub.')
  .version(VIGIL_VERSION)
  .showHelpAfterError('(run with --help for usage)')
  // Options after a subcommand belong to it: `vigil hub agents add x --config f` is not `vigil hub --config f`.
  .enablePositionalOptions();

program
  .command('agent')
  .description('Run the edge agent: read the configured OPC UA and MQTT tags and serve /healthz, /metrics and /tags.')
  .option('-c, --config <file>', 'agent configuration file (YAML)', process.env.VIGIL_CONFIG ?? '/etc/vigil/agent.yaml')
  .addHelpText('after', '\nStops gracefully on SIGINT/SIGTERM. Logs are JSON lines on stdout (readable when stdout is a terminal).')
  .action(async (opts: { config: string }) => {
    const { runAgentCommand } = await import('./agent-command.js');
    process.exitCode = await runAgentCommand(opts.config);
  });

program
  .command('check')
  .description('Validate a configuration and its tag files without connecting; with --connect, dry-run every tag against the live servers.')
  .argument('<file>', 'agent configuration file (YAML)')
  .option('--connect', 'also connect: resolve each OPC UA node and check its data type, listen to each MQTT topic', false)
  .option('--listen <seconds>', 'with --connect: how long to listen for MQTT traffic', positiveInt('--listen'), 5)
  .addHelpText('after', '\nExit code 0 when valid, 1 with the list of errors (file:line:column, key, what was found and what is expected).')
  .action(async (file: string, opts: { connect: boolean; listen: number }) => {
    const { runCheck } = await import('./check-command.js');
    process.exitCode = await runCheck(file, { connect: opts.connect, listenSeconds: opts.listen }, out);
  });

program
  .command('browse')
  .description('Walk an OPC UA server\'s address space and list its variables with nsu= node IDs, data types and names.')
  .argument('<endpoint>', 'OPC UA endpoint, e.g. opc.tcp://plc1:4840')
  .option('--depth <n>', 'how many levels below the root to walk', positiveInt('--depth'), 6)
  .option('--root <nodeId>', 'node to start from', 'i=85')
  .addOption(new Option('--security-mode <mode>', 'message security').choices(['None', 'Sign', 'SignAndEncrypt']).default('None'))
  .addOption(new Option('--security-policy <policy>', 'security policy (default Basic256Sha256 when secured)').choices(['None', 'Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss']))
  .option('--user <name>', 'user name (password from --password-file or --password-env)')
  .option('--password-file <file>', 'file holding the password')
  .option('--password-env <name>', 'environment variable holding the password')
  .option('--pki <dir>', "PKI folder (agent certificate, trusted/ and rejected/ server certificates)", './data/pki')
  .option('--out <file>', 'write a tag file skeleton: tags.yaml or tags.csv')
  .option('--source <name>', 'source name to put in the tag file', 'plc1')
  .action(
    async (
      endpoint: string,
      opts: { depth: number; root: string; securityMode: string; securityPolicy?: string; user?: string; passwordFile?: string; passwordEnv?: string; pki: string; out?: string; source: string },
    ) => {
      const { runBrowse } = await import('./browse-command.js');
      process.exitCode = await runBrowse(endpoint, { ...opts, pkiDir: opts.pki }, out);
    },
  );

program
  .command('demo')
  .description('Run Vigil on embedded defaults: a simulated plant (OPC UA server with pumps, embedded MQTT broker with a publisher), an agent reading both, and a hub with its web app that learns a model from the agent’s history, deploys it, and shows the episodes of injected faults.')
  .option('--data <dir>', 'data folder for the demo (deleted and recreated on the next run; a non-empty folder the demo did not make is refused)', '.vigil-demo')
  .option('--port <port>', 'port of the agent\'s HTTP endpoints (0 = any free port)', positiveInt('--port'), 8710)
  .option('--duration <seconds>', 'stop by itself after this many seconds (0 = run until Ctrl-C)', positiveInt('--duration'), 0)
  .option('--hub-port <port>', "port of the hub and its web app (0 = any free port)", positiveInt('--hub-port'), 8720)
  .option('--train-after <seconds>', "seconds of normal operation before the hub learns pump 1's baseline from the agent's history", positiveInt('--train-after'), 90)
  .option('--fault-every <seconds>', 'seconds between injected faults (pump 1 cavitates), once the model is deployed', positiveInt('--fault-every'), 150)
  .option('--fault-for <seconds>', 'seconds each injected fault lasts (less than --fault-every)', positiveInt('--fault-for'), 45)
  .action(async (opts: { data: string; port: number; hubPort: number; duration: number; trainAfter: number; faultEvery: number; faultFor: number }) => {
    const { runDemo } = await import('../demo/run-demo.js');
    process.exitCode = await runDemo(opts);
  });

const model = program.command('model').description('Build, check and upload model packages (*.vmodel): an ONNX file plus its manifest.');
model
  .command('pack')
  .description('Build a model package from an ONNX file and a manifest (YAML or JSON): validates the manifest, fills in the checksum, checks and dry-runs the model.')
  .argument('<onnx>', 'the ONNX model file')
  .argument('<manifest>', 'the manifest, YAML or JSON (see config/model-manifest.example.yaml)')
  .option('-o, --out <file>', 'package file, or folder, to write (default <name>-<version>.vmodel in the current folder)')
  .addHelpText('after', "\nThe package is written under a temporary name and renamed, so --out may point into an agent's model folder.")
  .action(async (onnx: string, manifest: string, opts: { out?: string }) => {
    const { runModelPack } = await import('./model-command.js');
    process.exitCode = await runModelPack(onnx, manifest, opts, out);
  });
model
  .command('check')
  .description('Check a model package offline with every check the agent makes before activating it.')
  .argument('<package>', 'the package file (*.vmodel)')
  .option('-c, --config <file>', "agent configuration (YAML): the model's tags must be configured there")
  .addHelpText('after', '\nExit code 0 when the package can be deployed, 1 with every reason it is refused.')
  .action(async (pkg: string, opts: { config?: string }) => {
    const { runModelCheck } = await import('./model-command.js');
    process.exitCode = await runModelCheck(pkg, opts, out);
  });

addHubConnectionOptions(
  model
  .command('train')
  .description("Learn normal behaviour from recorded data — CSV files, or an agent's raw history fetched through the hub — and write a model package: robust scaling, window features, PCA with T² + Q, thresholds from held-out data, exported to ONNX.")
  .option('--csv <file>', 'CSV of normal operation: a time column, one column per tag (repeat for more files)', collect, [])
  .option('--agent <id>', "instead of --csv: the agent (gateway) whose raw history to learn from, fetched through the hub (--hub, --token-file; needs --tags, --name, --period-ms); the hub trains and registers the version, and the package is written here too")
  .option('--last <duration>', 'with --agent: the period ending now, e.g. 2h, 1d (instead of --from/--to)', parseDuration)
  .option('--tags <list>', 'tag columns to use, comma-separated (default: every numeric column)')
  .option('--from <time>', 'first time to use from the --csv files (ISO date, UTC unless zoned, or Unix ms)')
  .option('--to <time>', 'end of the period (exclusive)')
  .option('--period-ms <ms>', 'sample period of the model grid (default: the rows\' typical spacing)', positiveInt('--period-ms'))
  .option('--window <samples>', 'samples per window (default 30)', positiveInt('--window'))
  .option('--hop <samples>', 'a window every this many samples (default 1)', positiveInt('--hop'))
  .option('--name <name>', 'model name (lower-case letters, digits, . _ -)')
  .option('--version <semver>', 'version of the package (default 1.0.0, or the parent\'s next minor)')
  .option('--description <text>', 'what the model watches, in plant words')
  .option('--parent <package>', 'the package this one retrains: its tags, grid and window are the defaults; named in the lineage')
  .option('--normal-extra <file>', 'more data known to be normal, e.g. an episode answered as normal operation (repeat for more)', collect, [])
  .option('--features <list>', 'per-tag window features: mean, spread (default mean)')
  .option('--margin <factor>', 'alarm threshold = held-out quantile × this (default 2.5)', positiveNumber('--margin'))
  .option('--quantile <q>', 'quantile of the held-out scores, 0..1 (default 0.99)', positiveNumber('--quantile'))
  .option('--variance-share <share>', 'PCA keeps the components explaining this share, 0..1 (default 0.95)', positiveNumber('--variance-share'))
  .option('-o, --out <dir>', 'folder or file to write (default <name>-<version>.vmodel in the current folder)'),
)
  .addHelpText('after', '\nPrints progress for long runs, then the thresholds and a summary. Exit code 0 when the package was written, 1 with the reason (file:line for a bad CSV row).')
  .action(async (opts: Omit<ModelTrainFromAgentOptions, 'agent'> & { agent?: string }) => {
    if (opts.agent !== undefined) {
      const { runModelTrainFromAgent } = await import('../../cloud-sync/cli/model-train-agent.js');
      process.exitCode = await runModelTrainFromAgent({ ...opts, agent: opts.agent }, out, (line) => process.stderr.write(line + '\n'));
      return;
    }
    if (opts.last !== undefined || opts.hub !== undefined || opts.tokenFile !== undefined || opts.tokenEnv !== undefined) {
      out('✖ --last, --hub, --token-file and --token-env go with --agent (training from an agent\'s history); from CSV files use --from/--to');
      process.exitCode = 1;
      return;
    }
    const { runModelTrain } = await import('../../cloud-sync/cli/train-command.js');
    process.exitCode = await runModelTrain(opts, out);
  });

addModelPushCommand(model);

const hub = addHubCommands(program);
addDeploymentCommands(hub);

await program.parseAsync(process.argv);
