import { hostname } from 'node:os';
import { z } from 'zod';

/**
 * The hub configuration (hub.yaml), declared once: validation, defaults, types
 * and the documentation in config/hub.example.yaml follow this schema. Every
 * `.describe()` is a full sentence with the unit and default.
 */

const positiveMs = (what: string, dflt: number) =>
  z.number().int().positive().default(dflt).describe(`${what}, in milliseconds. Default ${dflt}.`);

const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

export const HubTlsSchema = z
  .strictObject({
    certFile: z.string().min(1).describe("PEM certificate (chain) the hub presents. Relative paths are resolved from the configuration file's folder."),
    keyFile: z.string().min(1).describe("PEM private key of the certificate. Relative paths are resolved from the configuration file's folder."),
  })
  .describe('Serve HTTPS and WSS with this certificate and key. Default: plain HTTP and WS (put a TLS proxy in front, or set this).');

/** One option per storage backend; PostgreSQL (several replicas) joins this union. */
export const LmdbStorageSchema = z
  .strictObject({
    type: z.literal('lmdb').describe('lmdb: embedded storage in <hub.dataDir>/store; one hub replica.'),
  })
  .describe('Embedded LMDB storage: nothing else to run.');

export const PostgresStorageSchema = z
  .strictObject({
    type: z.literal('postgres').describe('postgres: a PostgreSQL database shared by every hub replica.'),
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\/[^\s]+$/, 'a PostgreSQL URL such as postgres://vigil@db.plant.local:5432/vigil')
      .describe('Connection URL, e.g. postgres://vigil@db.plant.local:5432/vigil?sslmode=require. Put the password in passwordFile rather than here.'),
    passwordFile: z.string().min(1).optional().describe("File holding the database password (one line), read at start. Relative paths are resolved from the configuration file's folder. Default: none (the URL's password, or trust / certificate authentication)."),
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a schema name of lower-case letters, digits and _, e.g. vigil')
      .default('vigil')
      .describe('Database schema holding the hub tables; created on first start. Default vigil.'),
    poolSize: z.number().int().min(2).max(200).default(10).describe('Connections each replica keeps open to the database. Default 10.'),
    migrate: z
      .enum(['on-start', 'manual'])
      .default('on-start')
      .describe('on-start: a starting replica applies pending schema migrations (one replica at a time). manual: it refuses to start until `vigil hub migrate` has run. Default on-start.'),
  })
  .describe('PostgreSQL storage: run several identical hub replicas behind a load balancer.');

export const StorageSchema = z.discriminatedUnion('type', [LmdbStorageSchema, PostgresStorageSchema]).describe('Where the hub keeps agents, results, models and deployments. Default lmdb.');

const DEFAULT_WEB = { sessionIdleMinutes: 720, loginFailuresPerMinute: 10 };

export const WebSchema = z
  .strictObject({
    sessionIdleMinutes: z
      .number()
      .positive()
      .default(DEFAULT_WEB.sessionIdleMinutes)
      .describe(`A web app session not used for this long ends and the person logs in again, in minutes (fractions allowed). Default ${DEFAULT_WEB.sessionIdleMinutes} (12 hours).`),
    loginFailuresPerMinute: z
      .number()
      .int()
      .positive()
      .default(DEFAULT_WEB.loginFailuresPerMinute)
      .describe(
        `Failed logins allowed per user name and per client address within a minute; beyond that logins are refused (429) until the minute has passed. Default ${DEFAULT_WEB.loginFailuresPerMinute}.`,
      ),
    publicUrl: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe(
        'The address people open the web app at, e.g. https://hub.plant.local:8720: digests link to it, the web app is accepted from this origin (needed behind a TLS proxy), and an https address makes the session cookie Secure. Default: none (the address the browser used).',
      ),
  })
  .default(DEFAULT_WEB)
  .describe('The web app the hub serves at / (logins and sessions).');

const DEFAULT_DIGEST = { every: 1440, maxEpisodes: 20, sendEmpty: false };

export const DigestSchema = z
  .strictObject({
    every: z
      .number()
      .positive()
      .default(DEFAULT_DIGEST.every)
      .describe(`How often the digest of episodes waiting for an answer is sent to webhookUrl, in minutes (fractions allowed). Default ${DEFAULT_DIGEST.every} (daily).`),
    at: z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a local time HH:MM, e.g. "07:30"')
      .optional()
      .describe('Aligns the sends to this local time of day, HH:MM (every 1440 with at 07:30 sends each morning at 07:30). Default: none (every minutes after the previous send).'),
    webhookUrl: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('The digest is POSTed as JSON to this address on schedule (10 s timeout; failures are logged and counted in vigil_hub_digest_total). Default: none (the digest is only shown in the web app).'),
    maxEpisodes: z.number().int().min(1).max(100).default(DEFAULT_DIGEST.maxEpisodes).describe(`Episodes listed in a digest, highest severity first. Default ${DEFAULT_DIGEST.maxEpisodes}.`),
    sendEmpty: z.boolean().default(DEFAULT_DIGEST.sendEmpty).describe('Send the digest also when no episode is waiting. Default false.'),
  })
  .default(DEFAULT_DIGEST)
  .describe('The periodic digest of episodes waiting for an answer.');

export const HubConfigSchema = z
  .strictObject({
    hub: z
      .strictObject({
        id: z.string().min(1).max(128).optional().describe('Name of this hub replica, shown as connectedTo of the agents connected to it. Default the host name.'),
        dataDir: z.string().min(1).default('./hub-data').describe("Folder for the hub's state: store/ (LMDB) and keys/ (the package signing key pair). Relative paths are resolved from the configuration file's folder. Default ./hub-data."),
      })
      .default({ dataDir: './hub-data' })
      .describe('Who this hub replica is and where it keeps its state.'),
    http: z
      .strictObject({
        host: z.string().min(1).default('0.0.0.0').describe('Address the API and the agent websocket listen on. Default 0.0.0.0 (every interface).'),
        port: z.number().int().min(0).max(65535).default(8720).describe('Port of the API (/api/…), the agent websocket (/sync) and /metrics; 0 picks a free one. Default 8720.'),
        tls: HubTlsSchema.optional(),
        maxBodyBytes: z.number().int().positive().default(DEFAULT_MAX_BODY_BYTES).describe(`Largest request body accepted (model packages are uploaded as one body), in bytes; larger requests get 413. Default ${DEFAULT_MAX_BODY_BYTES} (64 MiB).`),
      })
      .default({ host: '0.0.0.0', port: 8720, maxBodyBytes: DEFAULT_MAX_BODY_BYTES })
      .describe('The one port of the hub: HTTP API, agent websocket and metrics.'),
    storage: StorageSchema.default({ type: 'lmdb' }),
    sync: z
      .strictObject({
        heartbeatMs: positiveMs('How often agents are asked to send a heartbeat', 10_000),
        offlineAfterMs: positiveMs('An agent not heard from for this long is disconnected (close code TIMEOUT) and shown offline', 35_000),
        maxSkewMs: z.number().int().nonnegative().default(5000).describe('Agent clocks further than this from the hub clock are flagged as skewed in the API, in milliseconds. Default 5000.'),
        maxQueuedBatches: z.number().int().positive().default(8).describe('Batches of one agent waiting to be stored before the hub stops reading from its connection (backpressure). Default 8.'),
      })
      .default({ heartbeatMs: 10_000, offlineAfterMs: 35_000, maxSkewMs: 5000, maxQueuedBatches: 8 })
      .superRefine((s, ctx) => {
        if (s.offlineAfterMs <= s.heartbeatMs) {
          ctx.addIssue({ code: 'custom', path: ['offlineAfterMs'], message: `offlineAfterMs (${s.offlineAfterMs}) must be longer than heartbeatMs (${s.heartbeatMs}); about 3 heartbeats is usual` });
        }
      })
      .describe('The websocket link with agents.'),
    web: WebSchema,
    digest: DigestSchema,
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info').describe('Least severe level that is logged. Default info.'),
      })
      .default({ level: 'info' })
      .describe('Logging: JSON lines on stdout, readable lines on a terminal.'),
  })
  .describe('Vigil hub configuration.');

export type HubConfigInput = z.infer<typeof HubConfigSchema>;
export type PostgresStorageConfig = z.infer<typeof PostgresStorageSchema>;

/** The configuration after loading: defaults applied, paths absolute. */
export interface HubConfig {
  /** Absolute path of the configuration file. */
  file: string;
  hub: { id: string; dataDir: string };
  http: { host: string; port: number; tls?: { certFile: string; keyFile: string }; maxBodyBytes: number };
  storage: HubConfigInput['storage'];
  sync: HubConfigInput['sync'];
  log: HubConfigInput['log'];
  /** Defaults (WebSchema) when absent. */
  web?: WebConfig;
  /** Defaults (DigestSchema) when absent. */
  digest?: DigestConfig;
}

export type WebConfig = z.infer<typeof WebSchema>;
export type DigestConfig = z.infer<typeof DigestSchema>;

export function defaultHubId(): string {
  return hostname();
}
