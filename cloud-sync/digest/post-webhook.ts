import { VigilError, describeError } from '../../shared/errors.js';

export const WEBHOOK_TIMEOUT_MS = 10_000;

/**
 * POSTs a JSON body and resolves when the receiver answered 2xx. A receiver
 * that does not answer within the timeout, answers otherwise, or cannot be
 * reached is a VigilError whose message says which. `signal` aborts (hub stop).
 */
export async function postWebhook(url: string, body: unknown, signal?: AbortSignal, timeoutMs = WEBHOOK_TIMEOUT_MS): Promise<void> {
  const timeout = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'vigil-hub' },
      body: JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (cause) {
    const why = timeout.aborted ? `no answer within ${timeoutMs / 1000} s` : networkReason(cause);
    throw new VigilError('VIGIL_HUB_WEBHOOK_FAILED', `the digest webhook ${redactUrl(url)} could not be reached: ${why}`, { cause });
  }
  // Drain the body so the connection is released.
  const text = await response.text().catch(() => '');
  if (!response.ok) {
    throw new VigilError('VIGIL_HUB_WEBHOOK_FAILED', `the digest webhook ${redactUrl(url)} answered ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
  }
}

/** fetch says only "fetch failed"; the reason (ECONNREFUSED, a certificate problem) is its cause. */
function networkReason(err: unknown): string {
  const inner = err instanceof Error ? err.cause : undefined;
  return inner === undefined ? describeError(err) : `${describeError(err)} (${describeError(inner)})`;
}

/** Webhook URLs often carry a secret in the path or query (chat services); logs show only the origin. */
export function redactUrl(url: string): string {
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return '(invalid URL)';
  }
}
