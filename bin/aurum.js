#!/usr/bin/env node
/**
 * `aurum` as npm installs it (`npm link`, `npm install -g`): the CLI is TypeScript run by Bun
 * (src/cli/main.ts), and Bun is an npm dependency of this package, so this launcher needs only
 * Node. It finds Bun in the package's own node_modules (then on PATH), runs the CLI with it, passes
 * stdio, arguments, signals and the exit status through. Plain JavaScript that Node 18+ and Bun run.
 */
import { spawn } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// npm links bin/aurum.js from its bin directory: resolve the link to find the package itself.
const root = join(dirname(realpathSync(fileURLToPath(import.meta.url))), "..");
const cli = join(root, "src", "cli", "main.ts");
const exe = process.platform === "win32" ? "bun.exe" : "bun";

/** Bun: this process when Bun runs it, the package's own dependency, else one on PATH. */
function findBun() {
  if (process.versions.bun) return process.execPath;
  const candidates = [join(root, "node_modules", ".bin", exe)];
  try {
    // Where Node resolves the `bun` package from here (a hoisted install puts it above the package).
    const pkg = createRequire(join(root, "package.json")).resolve("bun/package.json");
    candidates.push(join(dirname(pkg), "bin", "bun.exe"));
  } catch {
    // not installed as a dependency: PATH below
  }
  for (const dir of (process.env.PATH ?? "").split(delimiter)) if (dir) candidates.push(join(dir, exe));
  return candidates.find((c) => existsSync(c));
}

const bun = findBun();
if (!bun) {
  process.stderr.write(
    `aurum: Bun not found. It is a dependency of this package: run \`npm install\` in ${root} (or install Bun, https://bun.sh, and put it on PATH).\n`,
  );
  process.exit(127);
}
const child = spawn(bun, [cli, ...process.argv.slice(2)], { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
child.on("error", (err) => {
  process.stderr.write(`aurum: could not start Bun (${bun}): ${err.message}\n`);
  process.exit(127);
});
child.on("exit", (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else process.exit(code ?? 1);
});
