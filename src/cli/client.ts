/**
 * The HTTP side of the CLI: one `ApiClient` that adds the token and tenant headers, turns error
 * envelopes into `CliError`s (exit 3) and failed connections into exit 4, and waits out a 429.
 */
import { apiError, CliError, EXIT } from "./errors";

export type ClientConfig = {
  url: string;
  token?: string | undefined;
  tenant?: string | undefined;
  /** How long to wait for response headers (and, for JSON calls, the whole body). */
  timeoutMs: number;
};

export type Query = Record<string, string | number | boolean | undefined>;
export type RequestOptions = {
  query?: Query;
  body?: BodyInit;
  json?: unknown;
  headers?: Record<string, string>;
  /** Overrides the configured timeout; 0 waits as long as it takes (an import answers when it is done). */
  timeoutMs?: number;
};
export type Meta = { request_id: string; next_cursor?: string | null; [key: string]: unknown };

const MAX_RATE_LIMIT_RETRIES = 3;

export class ApiClient {
  constructor(readonly config: ClientConfig) {}

  url(path: string, query: Query = {}): string {
    const url = new URL(path, this.config.url.endsWith("/") ? this.config.url : `${this.config.url}/`);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }

  /** A JSON call: the envelope's `data` and `meta`. */
  async call<T>(method: string, path: string, opts: RequestOptions = {}): Promise<{ data: T; meta: Meta; status: number }> {
    const { response, done } = await this.send(method, path, opts);
    try {
      if (response.status === 204) return { data: undefined as T, meta: { request_id: response.headers.get("x-request-id") ?? "" }, status: 204 };
      const text = await response.text().catch((err) => {
        throw this.unreachable(err);
      });
      let body: { data: T; meta: Meta };
      try {
        body = JSON.parse(text);
      } catch {
        throw new CliError(`the server at ${this.config.url} did not answer with JSON (is it the Aurum API?)`, EXIT.API);
      }
      return { data: body.data, meta: body.meta ?? { request_id: "" }, status: response.status };
    } finally {
      done();
    }
  }

  /** A successful response whose body the caller reads (a download); the header timeout no longer applies. */
  async stream(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const { response, done } = await this.send(method, path, opts);
    done();
    return response;
  }

  private async send(method: string, path: string, opts: RequestOptions): Promise<{ response: Response; done: () => void }> {
    const headers: Record<string, string> = { accept: "application/json", ...opts.headers };
    if (this.config.token) headers.authorization = `Bearer ${this.config.token}`;
    if (this.config.tenant) headers["x-aurum-tenant"] = this.config.tenant;
    let body = opts.body;
    if (opts.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.json);
    }
    for (let attempt = 0; ; attempt++) {
      const abort = new AbortController();
      const timeoutMs = opts.timeoutMs ?? this.config.timeoutMs;
      const timer = timeoutMs > 0 ? setTimeout(() => abort.abort(), timeoutMs) : undefined;
      const done = () => clearTimeout(timer);
      let response: Response;
      try {
        response = await fetch(this.url(path, opts.query), { method, headers, body: body ?? null, signal: abort.signal });
      } catch (err) {
        done();
        throw abort.signal.aborted ? new CliError(`no answer from ${this.config.url} within ${timeoutMs / 1000} s`, EXIT.UNREACHABLE) : this.unreachable(err);
      }
      if (response.ok) return { response, done };
      const text = await response.text().catch(() => "");
      done();
      // Only a rate limit is worth waiting for; everything else goes back to the user.
      const wait = Number(response.headers.get("retry-after"));
      if (response.status === 429 && attempt < MAX_RATE_LIMIT_RETRIES && wait >= 0 && wait <= 10 && isReplayable(body)) {
        await Bun.sleep(Math.max(wait, 0.2) * 1000);
        continue;
      }
      throw apiError(response.status, text, response.headers.get("x-request-id"));
    }
  }

  unreachable(err: unknown): CliError {
    const e = err as { code?: string; message?: string };
    const why = (e.code && !e.message?.includes(e.code) ? `${e.code}: ${e.message}` : e.message) || String(err);
    return new CliError(`cannot reach ${this.config.url} (${why})`, EXIT.UNREACHABLE);
  }
}

/** A body that can be sent twice (not a stream the first attempt consumed). */
const isReplayable = (body: BodyInit | undefined) => !(body instanceof ReadableStream);
