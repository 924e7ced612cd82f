import { X509Certificate } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPCUAClient, UserTokenType, type ClientSession, type OPCUACertificateManager, type UserIdentityInfo } from 'node-opcua';
import { VigilError, describeError } from '../../../shared/errors.js';
import type { OpcuaSourceConfig } from '../../config/schema.js';
import { quietNodeOpcuaLogs } from './node-opcua-logs.js';
import { certificateFailure, openClientPki, thumbprintOf } from './pki.js';
import { channelSecurity, userIdentity } from './security.js';

export interface OpcuaConnection {
  client: OPCUAClient;
  session: ClientSession;
  certificateManager: OPCUACertificateManager;
}

export type ConnectSettings = Pick<
  OpcuaSourceConfig,
  'endpoint' | 'securityMode' | 'securityPolicy' | 'user' | 'connectTimeoutMs' | 'sessionTimeoutMs'
>;

/**
 * The application URI sent to the server. It must match the URI inside the
 * agent's certificate (servers check), so once a certificate exists its URI
 * wins; otherwise it is derived from the agent id and written into the
 * certificate created on first start.
 */
export function applicationUri(pkiDir: string, agentId: string): string {
  try {
    const cert = new X509Certificate(readFileSync(join(pkiDir, 'own', 'certs', 'client_certificate.pem')));
    const uri = /URI:([^,\s]+)/.exec(cert.subjectAltName ?? '')?.[1];
    if (uri) return uri;
  } catch {
    // No certificate yet: node-opcua creates it with the URI below.
  }
  return `urn:vigil:agent:${agentId}`;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Opens a secure channel and an activated session, once. No retries in here:
 * node-opcua's own reconnection is switched off (`maxRetry: 0`) so the caller
 * sees every loss and decides (backoff, gap accounting, full rebuild).
 */
export async function connectClient(config: ConnectSettings, pkiDir: string, agentId: string): Promise<OpcuaConnection> {
  quietNodeOpcuaLogs();
  const certificateManager = await openClientPki(pkiDir);
  const { securityMode, securityPolicy } = channelSecurity(config);
  const client = OPCUAClient.create({
    applicationName: `vigil-${agentId}`,
    applicationUri: applicationUri(pkiDir, agentId),
    clientName: `vigil-${agentId}`,
    clientCertificateManager: certificateManager,
    securityMode,
    securityPolicy,
    endpointMustExist: false,
    keepSessionAlive: false,
    requestedSessionTimeout: config.sessionTimeoutMs,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    transportTimeout: config.connectTimeoutMs,
  });
  let stage = 'connect';
  let identity: UserIdentityInfo | undefined;
  try {
    identity = userIdentity(config.user);
    await withTimeout(client.connect(config.endpoint), config.connectTimeoutMs, 'connecting');
    stage = 'session';
    const session = await withTimeout(client.createSession(identity), config.connectTimeoutMs, 'opening the session');
    return { client, session, certificateManager };
  } catch (cause) {
    const thumbprint = thumbprintOf(client.serverCertificate ?? undefined);
    await disposeClient({ client, certificateManager }, false);
    if (cause instanceof VigilError) throw cause;
    const certStatus = certificateFailure(cause);
    if (certStatus) {
      throw new VigilError('VIGIL_OPCUA_CERT_UNTRUSTED', `the server certificate is not trusted (${certStatus})`, { cause, retryable: true, details: { certStatus, thumbprint } });
    }
    const userThumbprint = identity?.type === UserTokenType.Certificate ? thumbprintOf(identity.certificateData) : undefined;
    throw new VigilError('VIGIL_OPCUA_CONNECT_FAILED', connectFailureMessage(stage, cause, config, userThumbprint), { cause, retryable: true });
  }
}

function connectFailureMessage(stage: string, cause: unknown, config: ConnectSettings, userThumbprint?: string): string {
  const text = describeError(cause);
  const status = text.replace(/\s*\(0x[0-9a-f]+\)/i, '');
  if (stage === 'session' && config.user.type === 'certificate') {
    const { certificateFile, privateKeyFile } = config.user;
    // The server checks the user certificate against its own user trust list, which the agent cannot change.
    if (/BadIdentityTokenRejected|BadUserAccessDenied|BadCertificate\w*/.test(text)) {
      const thumbprint = userThumbprint ? `, SHA-1 thumbprint ${userThumbprint}` : '';
      return `the server refused the user certificate ${certificateFile} (${status}${thumbprint}); its administrator must add this certificate (or the CA that issued it) to the server's trusted user certificates; the agent retries by itself`;
    }
    if (/BadUserSignatureInvalid/.test(text)) {
      return `the server could not verify the user token signed with ${privateKeyFile} (${status}); check that privateKeyFile is the key of certificateFile ${certificateFile}`;
    }
  }
  const missingPolicy = /Cannot find (\w+)[^"]*user token policy/i.exec(text);
  if (missingPolicy) {
    return `the server offers no ${config.user.type} login on the endpoint with securityMode ${config.securityMode} (${text}); run vigil browse, or choose another user type or securityMode`;
  }
  if (stage === 'session' && /BadUserAccessDenied|BadIdentityTokenRejected|BadIdentityTokenInvalid/.test(text)) {
    const who = config.user.type === 'username' ? `user ${config.user.username}` : `${config.user.type} user`;
    return `the server refused the session for ${who} (${status}); check the user name and the password file or variable`;
  }
  if (/ECONNREFUSED/.test(text)) return `nothing listens at ${config.endpoint} (connection refused); is the server running and the port right?`;
  if (/ENOTFOUND|EAI_AGAIN/.test(text)) return `the host of ${config.endpoint} cannot be resolved; check the endpoint`;
  // node-opcua words a missing mode/policy pair as "Cannot find an Endpoint matching …".
  if (/BadSecurityPolicyRejected|BadSecurityModeRejected|no endpoint|cannot find an endpoint matching/i.test(text)) {
    return `the server offers no endpoint with securityMode ${config.securityMode} and securityPolicy ${config.securityPolicy ?? 'default'} (${text}); run vigil browse to list what it offers`;
  }
  return stage === 'session' ? `the session could not be opened: ${text}` : text;
}

/** Closes what is open, never waiting long: a frozen link must not hold up the rebuild. */
export async function disposeClient(conn: Partial<OpcuaConnection> & { client: OPCUAClient }, graceful: boolean): Promise<void> {
  conn.client.removeAllListeners();
  conn.session?.removeAllListeners();
  // A late 'close' or error from the old client must not crash the process.
  (conn.client as unknown as EventEmitter).on('error', () => undefined);
  try {
    if (graceful && conn.session) await withTimeout(conn.session.close(true), 2000, 'closing the session');
  } catch {
    // The server may be gone already; the channel is closed below regardless.
  }
  try {
    await withTimeout(conn.client.disconnect(), graceful ? 3000 : 1000, 'disconnecting');
  } catch {
    // Same: nothing more can be done for a link that does not answer.
  }
  await conn.certificateManager?.dispose().catch(() => undefined);
}
