/**
 * One error type for the whole service: a code from a closed list, the HTTP status it maps to,
 * and whether a caller (or a worker) may retry. `onError` in app.ts turns it into the envelope.
 */

export const ERROR_CODES = {
  VALIDATION_ERROR: { status: 400, retryable: false },
  UNAUTHORIZED: { status: 401, retryable: false },
  FORBIDDEN: { status: 403, retryable: false },
  /** A feature the tenant's own flags turn off; `details.flag` names it. */
  FEATURE_NOT_ENTITLED: { status: 403, retryable: false },
  NOT_FOUND: { status: 404, retryable: false },
  /** The path exists with other methods; the `Allow` header lists them. */
  METHOD_NOT_ALLOWED: { status: 405, retryable: false },
  CONFLICT: { status: 409, retryable: false },
  PRECONDITION_FAILED: { status: 412, retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  RATE_LIMITED: { status: 429, retryable: true },
  INTERNAL: { status: 500, retryable: true },
  UNAVAILABLE: { status: 503, retryable: true },
  /** A feature turned off for every tenant (environment or `_global` flag); `details.flag` names it. */
  FEATURE_DISABLED: { status: 503, retryable: false },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One invalid field: `field` is a JSON-pointer-like path such as `/assumptions/0/driver_type`. */
export type FieldIssue = { field: string; message: string; location?: "body" | "query" | "params" | "headers" };

export class AppError extends Error {
  override name = "AppError";
  readonly status: number;
  readonly retryable: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.status = ERROR_CODES[code].status;
    this.retryable = ERROR_CODES[code].retryable;
  }
}

export const badRequest = (message: string, issues?: FieldIssue[]) => new AppError("VALIDATION_ERROR", message, issues);
export const notFound = (what: string) => new AppError("NOT_FOUND", `${what} not found`);
export const conflict = (message: string, details?: unknown) => new AppError("CONFLICT", message, details);
