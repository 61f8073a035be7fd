/**
 * The `/docs` page's assets, served by the API itself from the pinned `swagger-ui-dist` npm package
 * (package.json): the page works with no network and loads nothing from another origin (no CDN,
 * no `@latest`). Only the two files the page uses are served, immutable for a day.
 */
import { dirname, join } from "node:path";
import { Elysia, t } from "elysia";
import { AppError } from "./errors";

const DIST = dirname(Bun.resolveSync("swagger-ui-dist/package.json", import.meta.dir));
const VERSION = (require(join(DIST, "package.json")) as { version: string }).version;
const FILES: Record<string, string> = { "swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css; charset=utf-8" };

/** Where the page finds its script and stylesheet (the openapi plugin's `swagger` options). */
export const DOCS_ASSETS = {
  cdn: "/docs/assets/swagger-ui-bundle.js",
  theme: "/docs/assets/swagger-ui.css",
  version: VERSION,
  // Swagger UI asks validator.swagger.io for a badge by default: an external request. Off.
  validatorUrl: "none",
} as const;

export function docsAssetRoutes() {
  return new Elysia({ name: "docs-assets" }).get(
    "/docs/assets/:file",
    ({ params, set }) => {
      const type = Object.hasOwn(FILES, params.file) ? FILES[params.file] : undefined;
      if (!type) throw new AppError("NOT_FOUND", `no docs asset ${JSON.stringify(params.file.slice(0, 100))}`);
      set.headers["content-type"] = type;
      set.headers["cache-control"] = "public, max-age=86400, immutable";
      set.headers["x-swagger-ui-version"] = VERSION;
      return Bun.file(join(DIST, params.file));
    },
    { params: t.Object({ file: t.String({ maxLength: 64 }) }), detail: { hide: true } },
  );
}
