/** The CLI's exit codes and the one error type that carries them to `main`. */

export const EXIT = {
  OK: 0,
  /** The run ended FAILED or CANCELLED, or a local failure (a file could not be written). */
  FAILED: 1,
  USAGE: 2,
  /** The server answered with an error envelope (or something that is not the API). */
  API: 3,
  /** No answer: connection refused, DNS, timeout, or the connection dropped mid-transfer. */
  UNREACHABLE: 4,
  /** Ctrl-C (128 + SIGINT), as shells report it. */
  INTERRUPTED: 130,
} as const;

export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode: number,
    /** Extra lines printed under `error: <message>`, indented. */
    readonly lines: string[] = [],
  ) {
    super(message);
  }
}

export const usageError = (message: string, hint?: string) => new CliError(message, EXIT.USAGE, hint ? [hint] : []);

/** Turns an API error envelope into the lines a user can act on: the message, each field's problem, the request id. */
export function apiError(status: number, body: string, requestIdHeader: string | null): CliError {
  let envelope: { error?: { code?: string; message?: string; details?: unknown }; meta?: { request_id?: string } } | undefined;
  try {
    envelope = JSON.parse(body);
  } catch {}
  const error = envelope?.error;
  if (!error?.message) {
    const text = body.trim().slice(0, 200);
    return new CliError(`HTTP ${status} from the server${text ? `: ${text}` : ""}`, EXIT.API);
  }
  const lines = detailLines(error.details);
  const requestId = envelope?.meta?.request_id ?? requestIdHeader;
  lines.push(`(HTTP ${status} ${error.code ?? ""}${requestId ? `, request ${requestId}` : ""})`.replace(" ,", ","));
  return new CliError(error.message, EXIT.API, lines);
}

function detailLines(details: unknown): string[] {
  if (Array.isArray(details)) {
    return details.map((d) => {
      const issue = d as { field?: string; message?: string };
      return issue.field ? `${issue.field}: ${issue.message ?? ""}` : JSON.stringify(d);
    });
  }
  if (details && typeof details === "object") return Object.entries(details).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
  return [];
}
