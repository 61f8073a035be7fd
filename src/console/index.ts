/**
 * The web console at `/console` (docs/console.md): index.html, app.js and app.css, built by
 * Bun.build on the first request and kept in memory. Public (the page holds no data; its API
 * calls carry the user's token) and hidden from the OpenAPI document.
 */
import { Elysia } from "elysia";
import type { Logger } from "../platform/logger";
import { type Asset, buildConsole, type ConsoleAssets } from "./build";

/** The page may load its own script and style and call this origin's API; nothing else. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export function consoleRoutes(deps: { log?: Logger } = {}) {
  let assets: Promise<ConsoleAssets> | undefined;
  const load = () => {
    if (!assets) {
      const started = performance.now();
      assets = buildConsole().then(
        (built) => {
          deps.log?.info("console_built", { ms: Math.round(performance.now() - started), bytes: Object.values(built).reduce((n, a) => n + a.body.length, 0) });
          return built;
        },
        (err) => {
          assets = undefined; // the next request tries again
          throw err;
        },
      );
    }
    return assets;
  };

  const serve = async (request: Request, name: keyof ConsoleAssets) => {
    const a: Asset = (await load())[name];
    // app.js and app.css are linked as `?v=<content hash>`: a matching URL never changes, so it may be cached for good.
    const versioned = name !== "index.html" && new URL(request.url).searchParams.get("v") === a.hash;
    const headers: Record<string, string> = {
      "content-type": a.type,
      etag: a.etag,
      "cache-control": versioned ? "public, max-age=31536000, immutable" : "no-cache",
      vary: "Accept-Encoding",
      "x-content-type-options": "nosniff",
    };
    if (name === "index.html") {
      headers["content-security-policy"] = CSP;
      headers["referrer-policy"] = "no-referrer";
    }
    const match = request.headers.get("if-none-match");
    if (match?.split(",").some((t) => t.trim().replace(/^W\//, "") === a.etag)) return new Response(null, { status: 304, headers });
    const gzip = acceptsGzip(request.headers.get("accept-encoding"));
    if (gzip) headers["content-encoding"] = "gzip";
    return new Response(gzip ? a.gzip : a.body, { status: 200, headers });
  };

  const hidden = { detail: { hide: true } } as const;
  return new Elysia({ name: "console" })
    .get("/console", ({ request }) => serve(request, "index.html"), hidden)
    .get("/console/", ({ request }) => serve(request, "index.html"), hidden)
    .get("/console/app.js", ({ request }) => serve(request, "app.js"), hidden)
    .get("/console/app.css", ({ request }) => serve(request, "app.css"), hidden);
}

/** True when Accept-Encoding offers gzip (or `*`) with a non-zero q. */
export function acceptsGzip(header: string | null): boolean {
  let star = false;
  for (const part of (header ?? "").toLowerCase().split(",")) {
    const [name, ...params] = part.trim().split(";");
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const ok = q === undefined || Number(q.slice(2)) > 0;
    if (name?.trim() === "gzip") return ok;
    if (name?.trim() === "*") star = ok;
  }
  return star;
}
