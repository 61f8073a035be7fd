/**
 * `/docs` offline (issue 19 item 6): the page's script and stylesheet come from the pinned
 * `swagger-ui-dist` npm package, served by the API. Chromium loads `/docs` with every request to
 * another origin aborted and recorded: the operations render and no external request is made.
 * Negative: with the page's own assets blocked too, nothing renders (the check can fail).
 * Without a browser: the asset routes' types, the allowlist, and no CDN in the page.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { buildApp, createTestDb, type TestDb } from "../support/app";
import { HAVE_CHROMIUM, launchBrowser, type Service, startService } from "./support";

describe("/docs assets (no browser)", () => {
  let db: TestDb;
  let app: Awaited<ReturnType<typeof buildApp>>;
  const get = (path: string) => app.handle(new Request(`http://localhost${path}`));
  beforeAll(async () => {
    db = await createTestDb("postgres");
    app = await buildApp(db);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("the page names only its own assets and the spec; no CDN, no @latest, the validator off", async () => {
    const html = await (await get("/docs")).text();
    expect(html).toContain('src="/docs/assets/swagger-ui-bundle.js"');
    expect(html).toContain('href="/docs/assets/swagger-ui.css"');
    expect(html).toContain('"url":"openapi.json"');
    expect(html).toContain('"validatorUrl":"none"');
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toContain("latest");
  });

  test("the two assets are served with their types from the pinned package; anything else is a 404", async () => {
    const js = await get("/docs/assets/swagger-ui-bundle.js");
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("x-swagger-ui-version")).toBe(JSON.parse(await Bun.file(Bun.resolveSync("swagger-ui-dist/package.json", import.meta.dir)).text()).version);
    expect((await js.text()).length).toBeGreaterThan(100_000);
    expect((await get("/docs/assets/swagger-ui.css")).headers.get("content-type")).toBe("text/css; charset=utf-8");
    for (const path of ["/docs/assets/package.json", "/docs/assets/..%2F..%2Fpackage.json", "/docs/assets/index.html"]) expect((await get(path)).status).toBe(404);
    const spec = await (await get("/openapi.json")).json();
    expect(Object.keys(spec.paths).some((p: string) => p.startsWith("/docs"))).toBe(false);
  });
});

describe.skipIf(!HAVE_CHROMIUM)("/docs in Chromium with no network but the server", () => {
  let service: Service;
  beforeAll(async () => {
    service = await startService();
  }, 180_000);
  afterAll(async () => {
    await service?.stop();
  });

  /** Loads /docs with requests outside `allowed` aborted; answers what rendered and what was refused. */
  async function load(allowed: (url: URL) => boolean) {
    const browser = await launchBrowser();
    const external: string[] = [];
    try {
      const page = await browser.context.newPage();
      await page.route("**/*", (route) => {
        const url = new URL(route.request().url());
        if (allowed(url)) return route.continue();
        external.push(url.href);
        return route.abort("internetdisconnected");
      });
      await page.goto(`${service.base}/docs`, { waitUntil: "load" });
      const rendered = await page
        .waitForSelector(".opblock-summary", { timeout: 15_000 })
        .then(() => true)
        .catch(() => false);
      const summaries = rendered ? await page.$$eval(".opblock-summary-description", (els) => els.map((e) => e.textContent?.trim() ?? "")) : [];
      const title = rendered ? await page.textContent(".info .title") : null;
      return { rendered, summaries, title, external };
    } finally {
      await browser.close();
    }
  }

  test("the operations render and no request leaves the server's origin", async () => {
    const origin = new URL(service.base).origin;
    const r = await load((url) => url.origin === origin);
    expect(r.rendered).toBe(true);
    expect(r.title).toContain("Aurum Scenarios API");
    expect(r.summaries).toContain("Create a scenario");
    expect(r.summaries).toContain("Update a scenario");
    expect(r.summaries.length).toBeGreaterThan(20);
    expect(r.external).toEqual([]);
  }, 120_000);

  test("negative: with the page's own assets blocked as well, nothing renders", async () => {
    const origin = new URL(service.base).origin;
    const r = await load((url) => url.origin === origin && !url.pathname.startsWith("/docs/assets/"));
    expect(r.rendered).toBe(false);
    expect(r.external.some((u) => u.endsWith("/docs/assets/swagger-ui-bundle.js"))).toBe(true);
  }, 120_000);
});
