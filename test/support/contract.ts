/**
 * Contract checking: every response a test receives from the app is checked against the OpenAPI
 * document (docs/api/openapi-spec.yaml; test/unit/drift.test.ts keeps it equal to the routes):
 *
 * - the status is listed for the operation (path template + method; HEAD is GET without a body);
 *   a path the document does not list may only get what the app's hooks answer before routing
 *   (UNROUTED_STATUSES: 404 for no route, 403/413/415/429/500/503), a listed path with a method it
 *   does not list a 405 (components/responses/MethodNotAllowed);
 * - the content type is one the response lists (no content: an empty body);
 * - a JSON body matches its schema (Ajv, JSON Schema 2020-12, with the document's components);
 * - every header the response marks `required` is present.
 *
 * A violation throws `ContractViolation` from `app.handle`, so the test fails. `checked(app)`
 * wraps an app; buildApp (test/support/app.ts) and limitedApp (test/support/limits.ts) return
 * checked apps, and `call()` goes through `app.handle`; `checkedFetch` checks a real process's. Each checked exchange is counted per
 * operation and status; with AURUM_CONTRACT_COVERAGE=file each key is appended to that file when first
 * seen, and `bun scripts/contract-coverage.ts` prints the matrix of documented statuses exercised.
 */
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ValidateFunction } from "ajv";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { UNROUTED_STATUSES } from "../../src/platform/openapi";

export const OPENAPI_FILE = join(import.meta.dir, "../../docs/api/openapi-spec.yaml");

/** Routes the document leaves out on purpose: the browser UIs and the document itself (hidden in src/). */
const UNDOCUMENTED = [/^\/docs(\/.*)?$/, /^\/openapi\.json$/, /^\/console(\/.*)?$/];

// biome-ignore lint/suspicious/noExplicitAny: the document is plain JSON
type Json = any;

export class ContractViolation extends Error {
  override name = "ContractViolation";
}

export type Exchange = { method: string; url: string; status: number; headers: Headers; body?: string | undefined };

export type Contract = {
  doc: Json;
  /** Throws ContractViolation when the exchange is not what the document says; returns the operation key it matched. */
  check(exchange: Exchange): string;
};

const ROOT = "aurum-openapi";

export function loadContract(doc: Json = Bun.YAML.parse(readFileSync(OPENAPI_FILE, "utf8"))): Contract {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  // Refs of the document (`#/components/...`) resolve against the whole document, added once.
  ajv.addSchema({ $id: ROOT, components: doc.components ?? {} });
  const validators = new WeakMap<object, ValidateFunction>();
  const validatorOf = (schema: Json) => {
    let v = validators.get(schema);
    if (!v) {
      v = ajv.compile(rebase(schema));
      validators.set(schema, v);
    }
    return v;
  };

  const templates = Object.keys(doc.paths ?? {})
    .map((template) => ({ template, pattern: templatePattern(template), literal: template.replace(/\{[^}]+\}/g, "").length }))
    .sort((a, b) => b.literal - a.literal);

  const deref = (obj: Json): Json => {
    let o = obj;
    for (let i = 0; o?.$ref && i < 10; i++) o = pointer(doc, o.$ref);
    return o;
  };

  return {
    doc,
    check(x) {
      const url = new URL(x.url, "http://localhost");
      const method = x.method.toUpperCase();
      const where = `${method} ${url.pathname} -> ${x.status}`;
      const fail = (why: string): never => {
        throw new ContractViolation(`contract: ${where}: ${why}`);
      };
      if (UNDOCUMENTED.some((re) => re.test(url.pathname))) return `${method} (undocumented UI) ${url.pathname}`;
      const found = templates.find((t) => t.pattern.test(url.pathname));
      const opMethod = method === "HEAD" ? "get" : method.toLowerCase();
      const op = found ? doc.paths[found.template][opMethod] : undefined;
      let key: string;
      let responseObj: Json;
      if (!op) {
        // Answered before any route: only the hooks' statuses (a listed path: 405 in place of 404).
        const allowed = new Set<number>(UNROUTED_STATUSES.filter((s) => (found ? s !== 404 : s !== 405)));
        if (!allowed.has(x.status))
          fail(found ? `the path has no ${method}; expected 405 or a status of the hooks, not ${x.status}` : `no documented path; expected 404 or a status of the hooks`);
        const name = {
          403: "Forbidden",
          404: "NotFound",
          405: "MethodNotAllowed",
          413: "PayloadTooLarge",
          415: "UnsupportedMediaType",
          429: "TooManyRequests",
          500: "InternalError",
          503: "Unavailable",
        }[x.status];
        responseObj = doc.components.responses[name as string];
        key = `${method} ${found ? found.template : "(no route)"} ${x.status}`;
      } else {
        responseObj = op.responses?.[String(x.status)];
        if (!responseObj) fail(`status ${x.status} is not documented (documented: ${Object.keys(op.responses ?? {}).join(", ")})`);
        key = `${opMethod.toUpperCase()} ${found?.template} ${x.status}`;
      }
      const res = deref(responseObj);
      for (const [name, h] of Object.entries<Json>(res.headers ?? {})) {
        if (deref(h).required && !x.headers.has(name)) fail(`required header ${name} is missing`);
      }
      const content: Record<string, Json> | undefined = res.content;
      const type = x.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
      const body = x.body ?? "";
      if (!content) {
        if (body !== "" && method !== "HEAD") fail(`no content is documented, got ${body.length} bytes (${type})`);
        return key;
      }
      if (method === "HEAD") {
        if (body !== "") fail("a HEAD response has a body");
        if (type && !content[type]) fail(`content type ${type} is not documented (${Object.keys(content).join(", ")})`);
        return key;
      }
      if (!type) fail(`no Content-Type; documented: ${Object.keys(content).join(", ")}`);
      const media = content[type as string];
      if (!media) fail(`content type ${type} is not documented (${Object.keys(content).join(", ")})`);
      if (x.body !== undefined && (type === "application/json" || type?.endsWith("+json")) && media.schema) {
        let value: unknown;
        try {
          value = JSON.parse(body);
        } catch {
          fail(`the body is not JSON: ${body.slice(0, 200)}`);
        }
        const validate = validatorOf(media.schema);
        if (!validate(value)) fail(`the body does not match its schema: ${ajv.errorsText(validate.errors, { separator: "; " }).slice(0, 1000)}`);
      }
      return key;
    },
  };
}

/** `#/components/...` refs of a piece of the document, made to resolve against the document. */
function rebase(schema: Json): Json {
  return JSON.parse(JSON.stringify(schema), (k, v) => (k === "$ref" && typeof v === "string" && v.startsWith("#/") ? `${ROOT}${v}` : v));
}

function pointer(doc: Json, ref: string): Json {
  return ref
    .slice(2)
    .split("/")
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((o, p) => o?.[p], doc);
}

function templatePattern(template: string): RegExp {
  const parts = template.split(/(\{[^}]+\})/).map((p) => (p.startsWith("{") ? "[^/]+" : p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
  return new RegExp(`^${parts.join("")}/?$`);
}

let shared: Contract | undefined;
/** The document's contract, loaded once per process. */
export function contract(): Contract {
  shared ??= loadContract();
  return shared;
}

/** operation-and-status key -> how many responses the tests received (this process). */
export const exercised = new Map<string, number>();
// bun test fires no process exit event: each key is appended the first time it is seen.
const coverageFile = process.env.AURUM_CONTRACT_COVERAGE;

function record(key: string): void {
  const n = exercised.get(key) ?? 0;
  exercised.set(key, n + 1);
  if (n === 0 && coverageFile) appendFileSync(coverageFile, `${key}\n`);
}

/** Media types whose bodies are read (and validated); others are streams left to the test. */
const READ = /^application\/(.+\+)?json$/;

/** Checks one Response (a clone is read when it is JSON); throws ContractViolation. */
export async function checkResponse(request: { method: string; url: string }, res: Response, c: Contract = contract()): Promise<void> {
  const type = res.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase() ?? "";
  const noBody = request.method === "HEAD" || res.status === 204 || res.status === 304;
  const body = noBody ? await res.clone().text() : READ.test(type) ? await res.clone().text() : undefined;
  const key = c.check({ method: request.method, url: request.url, status: res.status, headers: res.headers, body });
  record(key);
}

type Handles = { handle: (request: Request) => Promise<Response> };

/**
 * `fetch` checking the response against the document: for tests of a real process (a file may
 * shadow the global, `const fetch = checkedFetch;`).
 */
export async function checkedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const res = await globalThis.fetch(input, init);
  const url = input instanceof Request ? input.url : String(input);
  const method = init?.method ?? (input instanceof Request ? input.method : "GET");
  await checkResponse({ method, url }, res);
  return res;
}

/** The app with `handle` checking every response against the document. */
export function checked<A extends Handles>(app: A, c?: Contract): A {
  const handle = app.handle.bind(app);
  app.handle = async (request: Request) => {
    const res = await handle(request);
    await checkResponse(request, res, c);
    return res;
  };
  return app;
}
