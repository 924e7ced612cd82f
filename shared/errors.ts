/**
 * The catalogue of Vigil error codes. Every error a user can see carries one of
 * these codes, a message that says what to do next, and the original error in
 * `cause`. Keep codes stable once shipped: operators search logs for them.
 */
export const ERROR_CODES = {
  VIGIL_CONFIG_INVALID: 'The configuration has errors; each names its file, line and what to write.',
  VIGIL_CONFIG_NOT_FOUND: 'A configuration or tag file could not be read.',
  VIGIL_SECRET_UNAVAILABLE: 'A password or token file or environment variable is missing or empty.',
  VIGIL_OPCUA_CONNECT_FAILED: 'The OPC UA server could not be reached or refused the session; the agent retries with backoff.',
  VIGIL_OPCUA_CERT_UNTRUSTED: "The OPC UA server's certificate is not trusted yet; move it from pki/rejected to pki/trusted.",
  VIGIL_OPCUA_NAMESPACE_UNKNOWN: 'A nodeId names a namespace URI the server does not have.',
  VIGIL_OPCUA_NODE_INVALID: 'A node could not be monitored (unknown node, wrong type or access denied).',
  VIGIL_OPCUA_STALE_SUBSCRIPTION: 'A subscription delivered neither data nor keep-alive in time; the session is rebuilt.',
  VIGIL_MQTT_CONNECT_FAILED: 'The MQTT broker could not be reached or refused the connection; the agent retries with backoff.',
  VIGIL_MQTT_PAYLOAD_MALFORMED: 'An MQTT payload could not be decoded; it is dropped and counted per topic and reason.',
  VIGIL_PIPELINE_OVERFLOW: 'The sample pipeline was full; samples were dropped and counted.',
  VIGIL_HTTP_LISTEN_FAILED: "The agent's local HTTP port could not be opened.",
  VIGIL_MODEL_PACKAGE_INVALID: 'A model package could not be read: not a package, damaged, or its manifest is invalid.',
  VIGIL_MODEL_CHECKSUM_MISMATCH: "The ONNX file of a model package does not match the manifest's sha256; the package is refused.",
  VIGIL_MODEL_REFUSED: 'A model package disagrees with its ONNX file or the agent (names, types, shapes, tags, dry run); the active version keeps scoring.',
  VIGIL_STORE_QUARANTINED: "The agent's store could not be opened (damaged); it was moved to store-quarantine/ and a fresh store started. What it held was not sent.",
  VIGIL_STORE_QUOTA: 'The store reached store.quotaBytes; the oldest history and scores were evicted (episodes last), counted and reported to the hub.',
  VIGIL_MODEL_FAULT: 'A model failed while scoring (error, NaN or wrong-shaped output); it is stopped and the previous version takes over when there is one.',
  VIGIL_HUB_UNREACHABLE: 'The agent could not reach the hub or lost the link; results wait in the outbox and the agent reconnects with backoff.',
  VIGIL_HUB_UNAUTHORIZED: 'The hub refused the token (unknown agent, wrong or revoked token): create one with `vigil hub agents add` and put it in hub.tokenFile.',
  VIGIL_SYNC_PROTOCOL: 'A sync message was malformed, too large or out of order; the connection is closed with a code and both sides stay up.',
  VIGIL_MODEL_SIGNATURE_INVALID: 'A model package from the hub is unsigned, its signature does not verify with hub.publicKeyFile, or its sha256 differs; it is refused and the active version keeps scoring.',
  VIGIL_HUB_STORAGE_FAILED: "The hub's storage could not be opened or written; the batch is not acknowledged and the agent sends it again.",
  VIGIL_HUB_EXPORT_INVALID: 'A hub export file is damaged, cut short or not an export (file:line says where); nothing was imported.',
  VIGIL_API_BAD_REQUEST: 'An API request was malformed or failed validation; the response names the field.',
  VIGIL_API_UNAUTHORIZED: 'An API request had no valid token (Authorization: Bearer …).',
  VIGIL_API_NOT_FOUND: 'The API resource does not exist.',
  VIGIL_API_FORBIDDEN: "The API caller's role does not allow this (viewer < operator < admin).",
  VIGIL_API_TOO_LARGE: 'The API request body is larger than http.maxBodyBytes in hub.yaml.',
  VIGIL_HUB_INTERNAL: 'The hub failed unexpectedly while answering; the log has the details. Nothing was half-written.',
  VIGIL_HUB_WEBHOOK_FAILED: 'The digest webhook could not be reached or refused the post; the next scheduled digest tries again.',
  VIGIL_WEB_UNREACHABLE: 'The web app got no answer from the hub (network, hub restarting); the page tries again at its next refresh.',
  VIGIL_WEB_UNEXPECTED: 'The web app failed unexpectedly in the browser; reload the page (the browser console has the details).',
  VIGIL_TRAINING_DATA_INVALID: 'The training data cannot make a model (bad CSV row, missing or constant tag, too few windows); the message names the file and line or the tag.',
  VIGIL_API_CONFLICT: 'The API request conflicts with what exists (e.g. a model version is immutable once uploaded).',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface VigilErrorOptions {
  cause?: unknown;
  /** True when trying again later may succeed (network, server down). */
  retryable?: boolean;
  /** Extra structured fields kept for logs, e.g. an OPC UA status code. */
  details?: Record<string, unknown>;
}

export class VigilError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: VigilErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VigilError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? {};
  }
}

/** A short, single-line description of any thrown value, for logs and /tags. */
export function describeError(err: unknown): string {
  if (err instanceof VigilError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
