/**
 * Checks the OpenAPI document with three independent validators: `@redocly/cli lint` (recommended
 * rules, errors only), `@apidevtools/swagger-parser` validate and `@seriousme/openapi-schema-validator`.
 * `npm run check` runs it on docs/api/openapi-spec.yaml and on the app's live `/openapi.json`;
 * exits 1 on any error. test/unit/openapi-check.test.ts plants violations to show each one fails.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SwaggerParser from "@apidevtools/swagger-parser";
import { Validator } from "@seriousme/openapi-schema-validator";
import { OPENAPI_PATH, renderOpenApi } from "./openapi";

const REDOCLY = join(import.meta.dir, "../node_modules/.bin/redocly");

export type CheckResult = { validator: string; errors: string[] };

/** The three validators' errors for one document (a parsed object). */
export async function checkOpenApi(doc: unknown): Promise<CheckResult[]> {
  return [await redocly(doc), await swaggerParser(doc), await schemaValidator(doc)];
}

async function redocly(doc: unknown): Promise<CheckResult> {
  const dir = mkdtempSync(join(tmpdir(), "aurum-openapi-"));
  try {
    const file = join(dir, "openapi.json");
    writeFileSync(file, JSON.stringify(doc));
    const proc = Bun.spawnSync([REDOCLY, "lint", file, "--format=json", "--max-problems=1000"], {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
    });
    const out = proc.stdout.toString();
    const start = out.indexOf("{");
    if (start < 0) return { validator: "@redocly/cli lint", errors: [`no report (exit ${proc.exitCode}): ${proc.stderr.toString().slice(0, 500)}`] };
    const report = JSON.parse(out.slice(start)) as { problems: { severity: string; ruleId: string; message: string; location?: { pointer?: string }[] }[] };
    const errors = report.problems.filter((p) => p.severity === "error").map((p) => `${p.ruleId}: ${p.message} (${p.location?.[0]?.pointer ?? ""})`);
    if (errors.length === 0 && proc.exitCode !== 0) errors.push(`exit ${proc.exitCode}`);
    return { validator: "@redocly/cli lint", errors };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function swaggerParser(doc: unknown): Promise<CheckResult> {
  try {
    // It dereferences in place: give it a copy.
    await SwaggerParser.validate(structuredClone(doc) as never);
    return { validator: "@apidevtools/swagger-parser", errors: [] };
  } catch (err) {
    return { validator: "@apidevtools/swagger-parser", errors: [(err as Error).message] };
  }
}

async function schemaValidator(doc: unknown): Promise<CheckResult> {
  const res = await new Validator().validate(structuredClone(doc) as never);
  const errors = res.valid ? [] : (Array.isArray(res.errors) ? res.errors : [res.errors]).map((e) => (typeof e === "string" ? e : JSON.stringify(e)));
  return { validator: "@seriousme/openapi-schema-validator", errors };
}

if (import.meta.main) {
  const documents: [string, unknown][] = [
    ["docs/api/openapi-spec.yaml", Bun.YAML.parse(await Bun.file(OPENAPI_PATH).text())],
    ["/openapi.json", Bun.YAML.parse(await renderOpenApi())],
  ];
  let failed = 0;
  for (const [name, doc] of documents) {
    for (const { validator, errors } of await checkOpenApi(doc)) {
      console.log(`${errors.length === 0 ? "ok  " : "FAIL"} ${name}: ${validator}: ${errors.length} error(s)`);
      for (const e of errors.slice(0, 50)) console.log(`     ${e}`);
      failed += errors.length;
    }
  }
  process.exit(failed === 0 ? 0 : 1);
}
