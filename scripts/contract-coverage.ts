/**
 * Which documented operation × status pairs the test suite exercises. Runs the tests given (default:
 * all of test/) with AURUM_CONTRACT_COVERAGE set, so the contract hook (test/support/contract.ts)
 * records every checked response, then prints the matrix: per operation, each documented status
 * marked exercised (+) or not (-), and the totals. `--from FILE` prints the matrix of a recording
 * made earlier (e.g. `AURUM_CONTRACT_COVERAGE=FILE npm test`) without running anything.
 * Exit code: the tests' (0 with --from).
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const OPENAPI = join(import.meta.dir, "../docs/api/openapi-spec.yaml");
const METHODS = ["get", "put", "post", "delete", "patch", "options", "head"];

export function coverageMatrix(doc: { paths: Record<string, Record<string, { responses?: Record<string, unknown> }>> }, seen: ReadonlySet<string>) {
  const rows: { op: string; statuses: { status: string; hit: boolean }[] }[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const name = `${method.toUpperCase()} ${path}`;
      rows.push({ op: name, statuses: Object.keys(op.responses ?? {}).map((status) => ({ status, hit: seen.has(`${name} ${status}`) })) });
    }
  }
  const total = rows.reduce((n, r) => n + r.statuses.length, 0);
  const hit = rows.reduce((n, r) => n + r.statuses.filter((s) => s.hit).length, 0);
  return { rows, total, hit };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  let file: string;
  let code = 0;
  if (args[0] === "--from") {
    file = args[1] ?? "";
  } else {
    file = join(mkdtempSync(join(tmpdir(), "aurum-contract-")), "coverage.txt");
    const proc = Bun.spawn(["bun", join(import.meta.dir, "test.ts"), ...args], { stdout: "inherit", stderr: "inherit", env: { ...process.env, AURUM_CONTRACT_COVERAGE: file } });
    code = await proc.exited;
  }
  const seen = new Set(existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : []);
  const { rows, total, hit } = coverageMatrix(Bun.YAML.parse(readFileSync(OPENAPI, "utf8")) as Parameters<typeof coverageMatrix>[0], seen);
  console.log("\nContract coverage (+ exercised, - not):");
  for (const r of rows) console.log(`  ${r.op.padEnd(58)} ${r.statuses.map((s) => `${s.hit ? "+" : "-"}${s.status}`).join(" ")}`);
  const extra = [...seen].filter((k) => !rows.some((r) => k.startsWith(`${r.op} `)));
  if (extra.length) console.log(`  outside the operations (unrouted, 405): ${extra.sort().join(", ")}`);
  console.log(`contract coverage: ${hit} of ${total} documented operation x status pairs exercised`);
  process.exit(code);
}
