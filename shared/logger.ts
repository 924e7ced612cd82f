import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Keys whose values never reach a log line, wherever they appear in a logged
 * object. Secrets are read from files or environment variables and kept only in
 * memory; this list is the net under that rule.
 */
export const REDACTED_KEYS = [
  'password',
  'passwd',
  'token',
  'secret',
  'privateKey',
  'authorization',
  'cookie',
];

const redactPaths = REDACTED_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);

export interface LoggerSettings {
  level?: string;
  /** Force pretty (true) or JSON (false) output; default: pretty only on a TTY. */
  pretty?: boolean;
  name?: string;
}

/**
 * JSON lines on stdout (journald and log shippers read them as they are), or
 * colourised readable lines when a person watches a terminal.
 */
export function createLogger(settings: LoggerSettings = {}, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? process.env.VIGIL_LOG_LEVEL ?? 'info',
    name: settings.name ?? 'vigil',
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  if (destination) return pino(options, destination);
  const pretty = settings.pretty ?? Boolean(process.stdout.isTTY);
  if (!pretty) return pino(options);
  return pino({
    ...options,
    transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } },
  });
}

/** A logger that writes nothing, for unit tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
