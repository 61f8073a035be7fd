/**
 * Builds the web console (src/console) with Bun.build and reports its assets' sizes, raw and
 * gzipped. The server builds the same assets in memory on the first request to /console; this
 * script is for measuring and inspecting. `--out DIR` also writes the files there.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { buildConsole } from "../src/console/build";

const started = performance.now();
const assets = await buildConsole();
const ms = performance.now() - started;
const out = process.argv.includes("--out") ? process.argv[process.argv.indexOf("--out") + 1] : undefined;
const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
let raw = 0;
let gz = 0;
console.log("asset        raw         gzip");
for (const a of Object.values(assets)) {
  raw += a.body.length;
  gz += a.gzip.length;
  console.log(`${a.name.padEnd(12)} ${kb(a.body.length).padStart(10)}  ${kb(a.gzip.length).padStart(10)}`);
  if (out) {
    mkdirSync(out, { recursive: true });
    await Bun.write(join(out, a.name), a.body);
  }
}
console.log(`${"total".padEnd(12)} ${kb(raw).padStart(10)}  ${kb(gz).padStart(10)}   built in ${ms.toFixed(0)} ms${out ? `, written to ${out}` : ""}`);
