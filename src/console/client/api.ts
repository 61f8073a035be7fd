/**
 * The API client: the session (a bearer token, or the auth-disabled mode with an optional tenant)
 * lives in sessionStorage and is sent only to this origin; errors are the API's envelope.
 */

export type Session = { mode: "token"; token: string } | { mode: "local"; tenant: string };

const KEY = "aurum.console.session";

export function getSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function setSession(session: Session | null): void {
  if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly requestId?: string,
  ) {
    super(message);
  }
}

export function authHeaders(session = getSession()): Record<string, string> {
  if (!session) return {};
  if (session.mode === "token") return { authorization: `Bearer ${session.token}` };
  return session.tenant ? { "x-aurum-tenant": session.tenant } : {};
}

export type Envelope<T> = { data: T; meta: Record<string, unknown> & { next_cursor?: string | null }; status: number; headers: Headers };

/** Query string of the defined, non-empty values. */
export function qs(params: Record<string, string | number | boolean | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const text = q.toString();
  return text ? `?${text}` : "";
}

async function toError(res: Response): Promise<ApiError> {
  let body: { error?: { code?: string; message?: string; details?: unknown }; meta?: { request_id?: string } } | undefined;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  return new ApiError(res.status, body?.error?.code ?? `HTTP_${res.status}`, body?.error?.message ?? res.statusText, body?.error?.details, body?.meta?.request_id);
}

export async function api<T>(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal | undefined; session?: Session | null } = {}): Promise<Envelope<T>> {
  const headers: Record<string, string> = { accept: "application/json", ...authHeaders(init.session === undefined ? getSession() : init.session) };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, {
    method: init.method ?? "GET",
    headers,
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    ...(init.signal ? { signal: init.signal } : {}),
  });
  if (!res.ok) throw await toError(res);
  const json = res.status === 204 ? { data: undefined, meta: {} } : await res.json();
  return { data: json.data as T, meta: json.meta ?? {}, status: res.status, headers: res.headers };
}

/** Every row of a keyset-paged list (following `meta.next_cursor`), up to `maxPages` pages. */
export async function allRows<T>(
  path: string,
  params: Record<string, string | number | undefined>,
  signal?: AbortSignal,
  maxPages = 50,
): Promise<{ rows: T[]; meta: Record<string, unknown> }> {
  const rows: T[] = [];
  let cursor: string | undefined;
  let meta: Record<string, unknown> = {};
  for (let page = 0; page < maxPages; page++) {
    const res = await api<T[]>(`${path}${qs({ ...params, cursor })}`, { signal });
    if (page === 0) meta = res.meta;
    rows.push(...res.data);
    cursor = res.meta.next_cursor ?? undefined;
    if (!cursor) break;
  }
  return { rows, meta };
}

/**
 * Reads a server-sent event stream with fetch (EventSource cannot send an Authorization header),
 * calling `onEvent` per event. Resolves when the stream ends; rejects on an HTTP error or a broken connection.
 */
export async function readEvents(path: string, onEvent: (event: string, data: unknown) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(path, { headers: { accept: "text/event-stream", ...authHeaders() }, signal });
  if (!res.ok || !res.body) throw await toError(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let cut = buffer.indexOf("\n\n");
    while (cut >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      cut = buffer.indexOf("\n\n");
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (name === "event") event = val;
        else if (name === "data") data.push(val);
      }
      if (data.length) onEvent(event, JSON.parse(data.join("\n")));
    }
  }
}

/** Fetches a download with the session's headers; the file name comes from Content-Disposition. */
export async function download(path: string, fallbackName: string): Promise<{ blob: Blob; filename: string }> {
  const res = await fetch(path, { headers: authHeaders() });
  if (!res.ok) throw await toError(res);
  const disposition = res.headers.get("content-disposition") ?? "";
  const filename = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallbackName;
  return { blob: await res.blob(), filename };
}

/** A one-line, human description of an error, with the field issues the API listed. */
export function describe(err: unknown): string {
  if (err instanceof ApiError) {
    const issues = Array.isArray(err.details) ? (err.details as { field?: string; message?: string }[]).map((d) => `${d.field ?? ""}: ${d.message ?? ""}`).join("; ") : "";
    return `${err.status} ${err.code}: ${err.message}${issues ? ` (${issues})` : ""}${err.requestId ? ` [request ${err.requestId}]` : ""}`;
  }
  if (err instanceof DOMException && err.name === "AbortError") return "cancelled";
  return err instanceof Error ? err.message : String(err);
}
