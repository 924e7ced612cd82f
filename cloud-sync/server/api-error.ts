import { VigilError, type ErrorCode } from '../../shared/errors.js';

/**
 * How errors become HTTP responses: `{ "error": { "code", "message" } }`.
 * Route handlers throw VigilError with an API code (VIGIL_API_NOT_FOUND, …); the status follows
 * from the code, or from ApiError where one code serves two statuses.
 */

/** A VigilError with an explicit HTTP status. */
export class ApiError extends VigilError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
  ) {
    super(code, message);
    this.name = 'ApiError';
  }
}

export const forbidden = (message: string) => new ApiError(403, 'VIGIL_API_FORBIDDEN', message);
export const payloadTooLarge = (message: string) => new ApiError(413, 'VIGIL_API_TOO_LARGE', message);
export const methodNotAllowed = (message: string) => new ApiError(405, 'VIGIL_API_NOT_FOUND', message);

const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  VIGIL_API_BAD_REQUEST: 400,
  VIGIL_API_UNAUTHORIZED: 401,
  VIGIL_HUB_UNAUTHORIZED: 401,
  VIGIL_API_NOT_FOUND: 404,
  VIGIL_API_FORBIDDEN: 403,
  VIGIL_API_CONFLICT: 409,
  VIGIL_API_TOO_LARGE: 413,
};

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export function errorResponse(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof ApiError) return { status: err.status, body: { error: { code: err.code, message: err.message } } };
  if (err instanceof VigilError) return { status: STATUS_OF[err.code] ?? 500, body: { error: { code: err.code, message: err.message } } };
  const message = err instanceof Error ? err.message : String(err);
  return { status: 500, body: { error: { code: 'VIGIL_HUB_INTERNAL', message: `internal error: ${message}` } } };
}
