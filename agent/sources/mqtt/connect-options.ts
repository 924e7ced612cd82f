import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import { VigilError } from '../../../shared/errors.js';
import type { MqttSourceConfig } from '../../config/schema.js';
import { readSecret } from '../../config/secrets.js';

/**
 * mqtt.js options for a source: credentials and TLS files are read here, at
 * start, so a missing file is a clear startup error instead of a retry loop.
 * Reconnection is left to the source (reconnectPeriod 0) because mqtt.js only
 * knows a fixed period and a fleet needs jittered exponential backoff.
 */
export function mqttClientOptions(config: MqttSourceConfig, clientId: string, protocolVersion: 4 | 5, clean: boolean): IClientOptions {
  const options: IClientOptions = {
    clientId,
    clean,
    protocolVersion,
    keepalive: config.keepaliveSeconds,
    reconnectPeriod: 0,
    connectTimeout: 15_000,
    // The source subscribes on every connect itself (see MqttSource.onConnect).
    resubscribe: false,
  };
  if (protocolVersion === 5) options.properties = { sessionExpiryInterval: clean ? 0 : config.sessionExpirySeconds };
  if (config.username) options.username = config.username;
  if (config.passwordFile || config.passwordEnv) {
    options.password = readSecret({ file: config.passwordFile, env: config.passwordEnv }, `password of MQTT source ${config.name}`);
  }
  if (config.tls) {
    const read = (file: string | undefined, what: string) => {
      if (!file) return undefined;
      try {
        return readFileSync(file);
      } catch (cause) {
        throw new VigilError('VIGIL_CONFIG_NOT_FOUND', `cannot read the TLS ${what} ${file} of MQTT source ${config.name}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { cause });
      }
    };
    const ca = read(config.tls.caFile, 'caFile');
    const cert = read(config.tls.certFile, 'certFile');
    const key = read(config.tls.keyFile, 'keyFile');
    if (ca) options.ca = ca;
    if (cert) options.cert = cert;
    if (key) options.key = key;
    options.rejectUnauthorized = config.tls.rejectUnauthorized;
  }
  return options;
}

/** MQTT 5 reason codes and MQTT 3.1.1 CONNACK return codes, as an OT engineer should read them. */
export function explainConnectError(err: Error & { code?: unknown }, url: string): string {
  const code = typeof err.code === 'number' ? err.code : undefined;
  switch (code) {
    case 4:
    case 134:
      return `the broker ${url} refused the user name or password (reason ${code}); check username and passwordFile/passwordEnv`;
    case 5:
    case 135:
      return `the broker ${url} refused the connection: not authorized (reason ${code}); ask the broker admin to allow this user and client id`;
    case 2:
    case 133:
      return `the broker ${url} refused the client id (reason ${code}); set clientId to an id the broker accepts`;
    case 3:
    case 136:
    case 137:
      return `the broker ${url} is unavailable or busy (reason ${code}); the agent retries`;
  }
  const sys = typeof err.code === 'string' ? err.code : undefined;
  if (sys === 'ECONNREFUSED') return `nothing listens at ${url} (connection refused); is the broker running and the port right?`;
  if (sys === 'ENOTFOUND' || sys === 'EAI_AGAIN') return `the host of ${url} is not known (${sys}); check the URL and DNS`;
  if (sys && /CERT|SELF_SIGNED|UNABLE_TO/.test(sys)) return `the TLS certificate of ${url} does not verify (${sys}); set tls.caFile to the CA that signed it`;
  return `${url}: ${err.message}${code !== undefined ? ` (reason ${code})` : ''}`;
}

/** The broker only speaks MQTT 3.1.1 (aedes, older brokers): CONNACK "unacceptable protocol version". */
export function isProtocolVersionRejected(err: Error & { code?: unknown }): boolean {
  return err.code === 1 || err.code === 132;
}
