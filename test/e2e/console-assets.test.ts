/** The console's static routes, without a browser: content types, caching, compression, public access, absent from the OpenAPI document. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportSPKI, generateKeyPair } from "jose";
import { acceptsGzip } from "../../src/console";
import { buildApp, createTestDb, type TestDb } from "../support/app";

describe("console assets", () => {
  let db: TestDb;
  let app: Awaited<ReturnType<typeof buildApp>>;
  const get = (path: string, headers: Record<string, string> = {}) => app.handle(new Request(`http://localhost${path}`, { headers }));

  beforeAll(async () => {
    db = await createTestDb("postgres");
    // Auth on: the page itself must still be public (its API calls carry the user's token).
    app = await buildApp(db, { AURUM_API_AUTH_PUBLIC_KEY: await exportSPKI((await generateKeyPair("ES256")).publicKey) });
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("index.html, app.js and app.css with their types; the page links hashed URLs; the API stays protected", async () => {
    const page = await get("/console");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await page.text();
    expect((await get("/console/")).status).toBe(200);
    const js = /src="(\/console\/app\.js\?v=[\w-]+)"/.exec(html)?.[1] as string;
    const css = /href="(\/console\/app\.css\?v=[\w-]+)"/.exec(html)?.[1] as string;
    const script = await get(js);
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(script.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect((await script.text()).length).toBeGreaterThan(1000);
    const style = await get(css);
    expect(style.headers.get("content-type")).toBe("text/css; charset=utf-8");
    // Without the matching version the same bytes must be revalidated.
    expect((await get("/console/app.js")).headers.get("cache-control")).toBe("no-cache");
    expect((await get("/v1/scenarios")).status).toBe(401);
  });

  test("ETag revalidation answers 304; gzip when offered", async () => {
    const first = await get("/console/app.js");
    const etag = first.headers.get("etag") as string;
    expect(etag).toMatch(/^"[\w-]{16}"$/);
    const again = await get("/console/app.js", { "if-none-match": etag });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    expect((await get("/console/app.js", { "if-none-match": '"other"' })).status).toBe(200);
    const gz = await get("/console/app.js", { "accept-encoding": "gzip, br" });
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    expect(gz.headers.get("vary")).toBe("Accept-Encoding");
    expect(new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(await gz.arrayBuffer())))).toBe(await first.text());
    expect(acceptsGzip("gzip;q=0")).toBe(false);
    expect(acceptsGzip("*")).toBe(true);
    expect(acceptsGzip("br, identity")).toBe(false);
  });

  test("the console routes are hidden from the OpenAPI document; the events stream is in it", async () => {
    const doc = (await (await get("/openapi.json")).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).filter((p) => p.startsWith("/console"))).toEqual([]);
    expect(doc.paths["/v1/scenarios/{id}/runs/{run_id}/events"]).toBeDefined();
  });
});
