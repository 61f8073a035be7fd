/**
 * The contract hook (test/support/contract.ts) passes documented responses and throws on planted
 * undocumented ones: a status, a content type, a body, a missing required header, a method.
 */
import { describe, expect, test } from "bun:test";
import { ContractViolation, checked, loadContract } from "../support/contract";

const c = loadContract();
const ID = "7f0c1e2a-1b2c-4d5e-8f90-a1b2c3d4e5f6";
const scenario = {
  id: ID,
  tenant_id: "t1",
  name: "n",
  description: null,
  status: "active",
  assumptions: [],
  parameters: {},
  tags: [],
  version: 1,
  created_by: null,
  created_at: "2026-01-01T00:00:00.000Z",
  updated_at: "2026-01-01T00:00:00.000Z",
};
const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", "x-request-id": "r1", ...headers } });

/** A stand-in app answering every request with `res`, checked like the tests' apps. */
const answering = (res: () => Response) => checked({ handle: async (_: Request) => res() }, c);
const get = (path: string, method = "GET") => new Request(`http://localhost${path}`, { method });

describe("contract hook", () => {
  test("a documented response passes: status, content type, body schema, required headers", async () => {
    const res = await answering(() => json(200, { meta: { request_id: "r1", query_time_ms: 1 }, data: scenario }, { etag: '"v1"' })).handle(get(`/v1/scenarios/${ID}`));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ data: { id: ID } });
    // The error envelope on a shared response; 405 on a listed path's unlisted method; a 404 for no route.
    await answering(() => json(404, { error: { code: "NOT_FOUND", message: "x" }, meta: { request_id: "r1" } })).handle(get(`/v1/scenarios/${ID}`));
    await answering(() => json(405, { error: { code: "METHOD_NOT_ALLOWED", message: "x" }, meta: { request_id: "r1" } }, { allow: "GET" })).handle(get("/v1/curves", "PUT"));
    await answering(() => json(404, { error: { code: "NOT_FOUND", message: "x" }, meta: { request_id: "r1" } })).handle(get("/nowhere"));
    await answering(() => new Response(null, { status: 204, headers: { "x-request-id": "r1" } })).handle(get(`/v1/scenarios/${ID}`, "DELETE"));
  });

  const planted: [string, Request, () => Response, RegExp][] = [
    ["an undocumented status", get("/v1/scenarios"), () => json(418, { error: { code: "TEAPOT", message: "x" }, meta: { request_id: "r1" } }), /status 418 is not documented/],
    [
      "an undocumented content type",
      get(`/v1/scenarios/${ID}`),
      () => new Response("<p>hi</p>", { headers: { "content-type": "text/html", "x-request-id": "r1", etag: '"v1"' } }),
      /content type text\/html/,
    ],
    [
      "a body off its schema",
      get(`/v1/scenarios/${ID}`),
      () => json(200, { meta: { request_id: "r1", query_time_ms: 1 }, data: { ...scenario, version: "1" } }, { etag: '"v1"' }),
      /does not match its schema/,
    ],
    ["a missing required header (ETag)", get(`/v1/scenarios/${ID}`), () => json(200, { meta: { request_id: "r1", query_time_ms: 1 }, data: scenario }), /required header ETag/],
    ["a missing X-Request-Id", get("/healthz"), () => new Response(JSON.stringify({ status: "ok" }), { headers: { "content-type": "application/json" } }), /X-Request-Id/],
    ["a 401 without WWW-Authenticate", get("/v1/scenarios"), () => json(401, { error: { code: "UNAUTHORIZED", message: "x" }, meta: { request_id: "r1" } }), /WWW-Authenticate/],
    ["a body on a 204", get(`/v1/scenarios/${ID}`, "DELETE"), () => json(204, { deleted: true }), /no content is documented/],
    ["a 200 to a method the path lacks", get("/v1/curves", "PUT"), () => json(200, {}), /has no PUT/],
    ["a 200 on a path the document lacks", get("/v1/nowhere"), () => json(200, {}), /no documented path/],
  ];
  for (const [what, request, res, message] of planted) {
    test(`negative: ${what} throws`, async () => {
      const err = await answering(res)
        .handle(request)
        .then(() => undefined)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ContractViolation);
      expect((err as Error).message).toMatch(message);
    });
  }
});
