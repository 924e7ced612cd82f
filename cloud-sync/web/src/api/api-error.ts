/**
 * An API failure as the user sees it: the hub's stable code and message
 * (`{"error":{"code","message"}}`), or NETWORK when the hub did not answer.
 * Pages show both; nothing is swallowed.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * An endpoint this hub does not serve (yet): the hub answers 404 for unknown
 * API paths. Pages show "not available" for such optional parts and keep working.
 */
export function isNotServed(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404;
}

export function asApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return new ApiError(0, 'VIGIL_WEB_UNEXPECTED', err instanceof Error ? err.message : String(err));
}
