#!/usr/bin/env bun
// Runs a .sql file against Trino over its HTTP client protocol (POST /v1/statement,
// then follow nextUri until the query finishes). Statements are separated by ';'
// at the end of a line; '--' comments are dropped. Used by services.sh to apply
// trino/ddl/*.sql, so it has no dependencies.
//
//   bun deploy/local/trino-sql.ts trino/ddl/iceberg_market.sql
//   bun deploy/local/trino-sql.ts --query "select count(*) from system.runtime.nodes"
//   env: AURUM_TRINO_URL (http://127.0.0.1:8080), AURUM_TRINO_USER (aurum)

export {};

const url = (process.env.AURUM_TRINO_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
const user = process.env.AURUM_TRINO_USER ?? "aurum";

async function run(sql: string): Promise<unknown[][]> {
  let res = await fetch(`${url}/v1/statement`, {
    method: "POST",
    headers: { "X-Trino-User": user, "Content-Type": "text/plain" },
    body: sql,
  });
  const rows: unknown[][] = [];
  for (;;) {
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as {
      nextUri?: string;
      data?: unknown[][];
      error?: { message: string; errorName?: string };
    };
    if (body.error) throw new Error(`${body.error.errorName ?? "ERROR"}: ${body.error.message}`);
    if (body.data) rows.push(...body.data);
    if (!body.nextUri) return rows;
    res = await fetch(body.nextUri, { headers: { "X-Trino-User": user } });
    if (res.status === 503) {
      await Bun.sleep(100);
      res = await fetch(body.nextUri, { headers: { "X-Trino-User": user } });
    }
  }
}

const [flag, arg] = process.argv.slice(2);
if (flag === "--query" && arg) {
  // One statement; rows printed tab-separated (services.sh uses it as a readiness probe).
  try {
    for (const row of await run(arg)) console.log(row.join("\t"));
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
  process.exit(0);
}
const file = flag;
if (!file) {
  console.error("usage: bun deploy/local/trino-sql.ts FILE.sql | --query SQL");
  process.exit(2);
}
const text = (await Bun.file(file).text())
  .split("\n")
  .map((line) => line.replace(/--.*$/, ""))
  .join("\n");
const statements = text
  .split(/;\s*(?:\n|$)/)
  .map((s) => s.trim())
  .filter(Boolean);
for (const statement of statements) {
  const first = statement.split("\n")[0];
  try {
    await run(statement);
    console.log(`ok: ${first}`);
  } catch (e) {
    console.error(`failed: ${first}\n  ${(e as Error).message}`);
    process.exit(1);
  }
}
