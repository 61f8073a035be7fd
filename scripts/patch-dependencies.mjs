/**
 * Fixes in a dependency that its release does not have yet, applied to node_modules after every
 * install: by `npm ci` / `npm install` (this package's `postinstall`) and by the image build
 * (deploy/docker/Dockerfile, after `bun install --ignore-scripts`), in the package root. Plain
 * JavaScript, so node or bun runs it. Idempotent; it fails the install when a file no longer
 * reads as the patch expects (a new version of the dependency: check whether it still needs the
 * fix, then update or drop it). Why, and when to drop it: docs/decisions/0008-postgres-js-patch.md.
 *
 *   node scripts/patch-dependencies.mjs [--check]   (--check: exit 1 unless every patch is applied)
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const MARK = "/* aurum patch:";

/**
 * postgres.js 3.4.9 (3.4.10 too) when the server ends a connection at the wrong moment
 * (`pg_terminate_backend`, a restart, a proxy's reset). Each ends the whole process or leaves a
 * connection that never sends again:
 * - `nextWrite` runs from a `setImmediate` after `closed()` set `socket` to null: an uncaught
 *   TypeError (upstream issues #1066, #1154, #1208). Now the write settles what waited for it with
 *   CONNECTION_CLOSED, as a close does.
 * - `closed()` clears the pending immediate but keeps `nextWriteTimer` and the unsent `chunk`: no
 *   later write on that connection is ever scheduled, and the next socket would get the dead one's
 *   bytes before its startup message. Now both are reset.
 * - A query handed to a connection between its socket's 'error' and 'close' events (the pool still
 *   counts it busy) is written to the dead socket, and `closed(hadError)` settles nothing when
 *   there was an error, assuming the error settled all: such queries waited forever (a request
 *   hung 119 s, until its test's timeout). Now a close settles whatever is still in flight.
 * - The array-type fetch on each new connection runs as a promise nobody holds: killed during it,
 *   the connection's next ReadyForQuery rejects it, an unhandled rejection (Bun ends the process).
 *   The failure itself reaches the waiting query through the connection (`errored`), so the
 *   promise's own rejection is dropped.
 */
export const CONNECTION = [
  {
    find: "  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)",
    replace: `  function nextWrite(fn) {\n    ${MARK} closed before this write went out */ if (!socket) return closedBeforeWrite()\n    const x = socket.write(chunk, fn)`,
  },
  {
    find: "  function connectTimedOut() {",
    replace: `  ${MARK} settle what waited for a write the closed socket never sent */\n  function closedBeforeWrite() {\n    nextWriteTimer !== null && clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    error(Errors.connection('CONNECTION_CLOSED', options))\n    return false\n  }\n\n  function connectTimedOut() {`,
  },
  {
    find: "    incomings = null\n    clearImmediate(nextWriteTimer)\n",
    replace: `    incomings = null\n    clearImmediate(nextWriteTimer)\n    ${MARK} no stale timer or bytes for the next socket */ nextWriteTimer = chunk = null\n`,
  },
  {
    find: "    !hadError && (query || sent.length) && error(",
    replace: `    ${MARK} after an error too: queries sent since then */ if (query || sent.length) error(`,
  },
  {
    find: "        return fetchArrayTypes()\n",
    replace: `        ${MARK} its failure reaches the waiting query through the connection */ return fetchArrayTypes().catch(() => {})\n`,
  },
];

export const PATCHES = [
  { file: "node_modules/postgres/src/connection.js", edits: CONNECTION },
  { file: "node_modules/postgres/cjs/src/connection.js", edits: CONNECTION },
];

/**
 * Applies (or with `check`, only verifies) every patch under `root`; returns the problems, empty when
 * all is well. A file is written only when all of its edits apply.
 */
export function patchDependencies(root, { check = false } = {}) {
  const problems = [];
  for (const { file, edits } of PATCHES) {
    const path = join(root, file);
    if (!existsSync(path)) {
      if (check) problems.push(`${file}: not installed`);
      continue; // another layout: nothing to patch
    }
    const installed = readFileSync(path, "utf8");
    let text = installed;
    const before = problems.length;
    for (const { find, replace } of edits) {
      if (text.includes(replace)) continue;
      if (check || !text.includes(find)) problems.push(`${file}: ${check ? "not patched" : "does not read as expected"} at ${JSON.stringify(find.split("\n")[0]?.trim())}`);
      else text = text.replace(find, replace);
    }
    // Written only when changed: a node_modules copied as hard links (npm-link.test.ts) shares its files.
    if (!check && problems.length === before && text !== installed) writeFileSync(path, text);
  }
  return problems;
}

// Run as a script, not imported (the tests): in the package root, where npm runs `postinstall`.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const problems = patchDependencies(process.cwd(), { check: process.argv.includes("--check") });
  for (const p of problems) console.error(`patch-dependencies: ${p}`);
  if (problems.length > 0) process.exit(1);
}
