/**
 * Builds the console's assets in memory: `app.ts` bundled and minified by Bun.build (no other
 * toolchain; the driver payload schemas go in as the constant DRIVER_FORMS_FROM_SCHEMAS),
 * `app.css`, and `index.html` pointing at both with a content hash. Each asset carries its ETag
 * and a gzip copy.
 */
import { join } from "node:path";
import { driverForms } from "../scenarios/drivers";

export type Asset = { name: string; type: string; body: Uint8Array<ArrayBuffer>; gzip: Uint8Array<ArrayBuffer>; etag: string; hash: string };
export type ConsoleAssets = Record<"index.html" | "app.js" | "app.css", Asset>;

const DIR = import.meta.dir;

function asset(name: string, type: string, text: string): Asset {
  const body = new TextEncoder().encode(text);
  const hash = new Bun.CryptoHasher("sha256").update(body).digest("base64url").slice(0, 16);
  return { name, type, body, gzip: Bun.gzipSync(body, { level: 9 }) as Uint8Array<ArrayBuffer>, etag: `"${hash}"`, hash };
}

export async function buildConsole(opts: { minify?: boolean } = {}): Promise<ConsoleAssets> {
  const result = await Bun.build({
    entrypoints: [join(DIR, "app.ts")],
    target: "browser",
    format: "esm",
    minify: opts.minify ?? true,
    sourcemap: "none",
    // The assumption forms, read off the API's own driver schemas (client/forms.ts).
    define: { DRIVER_FORMS_FROM_SCHEMAS: JSON.stringify(driverForms()) },
  });
  const js = result.outputs.find((o) => o.kind === "entry-point");
  if (!result.success || !js) throw new AggregateError(result.logs, "the console did not build");
  const script = asset("app.js", "text/javascript; charset=utf-8", await js.text());
  const css = asset("app.css", "text/css; charset=utf-8", minifyCss(await Bun.file(join(DIR, "app.css")).text()));
  const html = (await Bun.file(join(DIR, "index.html")).text()).replace("%JS_HASH%", script.hash).replace("%CSS_HASH%", css.hash);
  return { "index.html": asset("index.html", "text/html; charset=utf-8", html), "app.js": script, "app.css": css };
}

/** Comments and runs of whitespace out; the stylesheet has no strings or urls that this could break. */
function minifyCss(css: string): string {
  return css
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\s+/g, " ")
    .replace(/\s*([{}:;,>])\s*/g, "$1")
    .replace(/;}/g, "}")
    .trim();
}
