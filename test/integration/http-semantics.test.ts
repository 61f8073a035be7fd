/**
 * HTTP semantics by the book (RFC 9110, RFC 6750, Fetch/CORS): 405 with Allow, OPTIONS, HEAD
 * with Date, the Bearer challenge of a 401, and CORS for configured origins only. Through
 * app.handle on Postgres, and HEAD over a real socket (Bun's server is what drops Date there).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { buildApp, call, createTestDb, type TestDb } from "../support/app";

const PAGE = "https://analytics.example.com";

describe("HTTP semantics", () => {
  let db: TestDb;
  let app: Awaited<ReturnType<typeof buildApp>>;
  let authed: Awaited<ReturnType<typeof buildApp>>;
  let key: Awaited<ReturnType<typeof generateKeyPair>>;

  beforeAll(async () => {
    db = await createTestDb("postgres");
    app = await buildApp(db, { AURUM_API_AUTH_DISABLED: "1", AURUM_API_CORS_ORIGINS: PAGE });
    key = await generateKeyPair("ES256");
    authed = await buildApp(db, { AURUM_API_AUTH_PUBLIC_KEY: await exportSPKI(key.publicKey), AURUM_API_AUTH_ALGORITHMS: "ES256" });
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("a known path with the wrong method is a 405 listing the path's methods in Allow", async () => {
    const put = await call(app, "PUT", "/v1/scenarios");
    expect(put.status).toBe(405);
    expect(put.json.error.code).toBe("METHOD_NOT_ALLOWED");
    expect(put.headers.get("allow")).toBe("GET, HEAD, OPTIONS, POST");
    const post = await call(app, "POST", "/v1/scenarios/00000000-0000-4000-8000-000000000000", { body: {} });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("DELETE, GET, HEAD, OPTIONS, PATCH");
    expect((await call(app, "DELETE", "/v1/curves:import")).headers.get("allow")).toBe("OPTIONS, POST");
    // An unknown path stays a 404 whatever the method.
    expect((await call(app, "PUT", "/v1/nothing-here")).status).toBe(404);
    expect((await call(app, "OPTIONS", "/v1/nothing-here")).status).toBe(404);
  });

  test("OPTIONS without CORS headers answers 204 with Allow", async () => {
    const res = await call(app, "OPTIONS", "/v1/scenarios/00000000-0000-4000-8000-000000000000/run");
    expect(res.status).toBe(204);
    expect(res.headers.get("allow")).toBe("OPTIONS, POST");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("a listed origin's preflight is granted; an unlisted one, a method the path lacks or an unknown header is not", async () => {
    const preflight = (origin: string, method: string, headers = "authorization, content-type") =>
      call(app, "OPTIONS", "/v1/scenarios", { headers: { origin, "access-control-request-method": method, "access-control-request-headers": headers } });
    const ok = await preflight(PAGE, "POST");
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe(PAGE);
    expect(ok.headers.get("access-control-allow-methods")).toBe("GET, HEAD, OPTIONS, POST");
    expect(ok.headers.get("access-control-allow-headers")).toContain("if-match");
    expect(Number(ok.headers.get("access-control-max-age"))).toBeGreaterThan(0);
    expect(ok.headers.get("vary")).toContain("Origin");
    for (const refused of [await preflight("https://evil.example", "POST"), await preflight(PAGE, "DELETE"), await preflight(PAGE, "POST", "x-custom")]) {
      expect(refused.status).toBe(204);
      expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    }
  });

  test("a listed origin's requests carry Allow-Origin and exposed headers, and it may write; others may not", async () => {
    const created = await call(app, "POST", "/v1/scenarios", { body: { tenant_id: "t-cors", name: "From a page" }, headers: { origin: PAGE } });
    expect(created.status).toBe(201);
    expect(created.headers.get("access-control-allow-origin")).toBe(PAGE);
    expect(created.headers.get("access-control-expose-headers")).toContain("etag");
    const read = await call(app, "GET", `/v1/scenarios/${created.json.data.id}`, { headers: { origin: "https://evil.example" } });
    expect(read.status).toBe(200);
    expect(read.headers.get("access-control-allow-origin")).toBeNull();
    const forged = await call(app, "POST", "/v1/scenarios", { body: { tenant_id: "t-cors", name: "Forged" }, headers: { origin: "https://evil.example" } });
    expect(forged.status).toBe(403);
    // Errors carry the CORS headers too, so a page can read the envelope.
    const missing = await call(app, "GET", "/v1/scenarios/00000000-0000-4000-8000-000000000000", { headers: { origin: PAGE } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("access-control-allow-origin")).toBe(PAGE);
  });

  test("no origin is granted CORS by default", async () => {
    const plain = await buildApp(db);
    const res = await call(plain, "OPTIONS", "/v1/scenarios", { headers: { origin: PAGE, "access-control-request-method": "GET" } });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect((await call(plain, "GET", "/healthz", { headers: { origin: PAGE } })).headers.get("access-control-allow-origin")).toBeNull();
  });

  test("a 401 carries a Bearer challenge with the RFC 6750 error code", async () => {
    const none = await call(authed, "GET", "/v1/scenarios");
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="aurum-scenarios"');
    const malformed = await call(authed, "GET", "/v1/scenarios", { headers: { authorization: "Basic abc" } });
    expect(malformed.headers.get("www-authenticate")).toStartWith('Bearer realm="aurum-scenarios", error="invalid_request"');
    const expired = await new SignJWT({ tenant_id: "t", roles: ["analyst"] })
      .setProtectedHeader({ alg: "ES256" })
      .setIssuedAt(Math.floor(Date.now() / 1000) - 600)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 300)
      .sign(key.privateKey);
    const stale = await call(authed, "GET", "/v1/scenarios", { headers: { authorization: `Bearer ${expired}` } });
    expect(stale.status).toBe(401);
    expect(stale.headers.get("www-authenticate")).toBe('Bearer realm="aurum-scenarios", error="invalid_token", error_description="token expired"');
    // A 403 is not a challenge.
    expect((await call(app, "POST", "/v1/scenarios", { body: { name: "x" }, headers: { origin: "https://evil.example" } })).headers.get("www-authenticate")).toBeNull();
  });

  test("HEAD over a real socket answers GET's status and headers, Date included, without a body", async () => {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (r) => app.handle(r) });
    try {
      const created = await call(app, "POST", "/v1/scenarios", { body: { tenant_id: "t-head", name: "Headed" } });
      for (const path of ["/healthz", `/v1/scenarios/${created.json.data.id}`]) {
        const get = await fetch(`http://127.0.0.1:${server.port}${path}`);
        const head = await fetch(`http://127.0.0.1:${server.port}${path}`, { method: "HEAD" });
        expect(head.status).toBe(get.status);
        expect(await head.text()).toBe("");
        expect(head.headers.get("date")).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
        expect(head.headers.get("etag")).toBe(get.headers.get("etag"));
        expect(head.headers.get("content-type")).toBe(get.headers.get("content-type"));
        // The envelope's query_time_ms can differ in length between two requests: equal lengths only for a static body.
        const length = Buffer.byteLength(await get.text());
        if (path === "/healthz") expect(head.headers.get("content-length")).toBe(String(length));
        else expect(Math.abs(Number(head.headers.get("content-length")) - length)).toBeLessThanOrEqual(4);
      }
    } finally {
      server.stop(true);
    }
  });
});
