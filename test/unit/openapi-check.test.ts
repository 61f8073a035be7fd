/**
 * The OpenAPI document passes three independent validators (scripts/check-openapi.ts, run by
 * `npm run check`), and each validator fails on the defects the document once had, planted back.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { checkOpenApi } from "../../scripts/check-openapi";
import { OPENAPI_PATH } from "../../scripts/openapi";
import { normaliseSchema } from "../../src/platform/openapi";

// biome-ignore lint/suspicious/noExplicitAny: the document is plain JSON
const committed = (): any => Bun.YAML.parse(readFileSync(OPENAPI_PATH, "utf8"));

const errorsOf = async (doc: unknown) => Object.fromEntries((await checkOpenApi(doc)).map((r) => [r.validator, r.errors]));

describe("OpenAPI validators", () => {
  test("docs/api/openapi-spec.yaml: 0 errors from redocly, swagger-parser and openapi-schema-validator", async () => {
    const errors = await errorsOf(committed());
    expect(errors).toEqual({ "@redocly/cli lint": [], "@apidevtools/swagger-parser": [], "@seriousme/openapi-schema-validator": [] });
  });

  test("negative: `content: {type: void}` on a 204 fails all three", async () => {
    const doc = committed();
    doc.paths["/v1/scenarios/{id}"].delete.responses["204"].content = { type: "void", description: "Deleted" };
    const errors = await errorsOf(doc);
    for (const list of Object.values(errors)) expect(list.length).toBeGreaterThan(0);
  });

  test("negative: a non-standard `error` keyword, a tuple `items: [...]` with `additionalItems` and no servers fail redocly", async () => {
    const doc = committed();
    doc.components.schemas.ScenarioCreate.properties.name.error = "must be 1..200 characters";
    doc.components.schemas.ModelParameters.properties.band_quantiles = { type: "array", items: [{ type: "number" }, { type: "number" }], additionalItems: false };
    delete doc.servers;
    const errors = (await errorsOf(doc))["@redocly/cli lint"] ?? [];
    expect(errors.some((e) => e.includes("`error`"))).toBe(true);
    expect(errors.some((e) => e.includes("additionalItems"))).toBe(true);
    expect(errors.some((e) => e.startsWith("no-empty-servers"))).toBe(true);
  });

  test("negative: an undefined path parameter fails redocly; a response without description fails swagger-parser and openapi-schema-validator", async () => {
    const doc = committed();
    doc.paths["/v1/scenarios/{id}/{extra}"] = structuredClone(doc.paths["/v1/scenarios/{id}"]);
    delete doc.paths["/v1/curves"].get.responses["200"].description;
    const errors = await errorsOf(doc);
    expect(errors["@redocly/cli lint"]?.some((e) => e.startsWith("path-parameters-defined"))).toBe(true);
    expect(errors["@apidevtools/swagger-parser"]?.length).toBeGreaterThan(0);
    expect(errors["@seriousme/openapi-schema-validator"]?.length).toBeGreaterThan(0);
  });
});

describe("normaliseSchema", () => {
  test("strips `error`, keeps a property named error; $id marks become $ref; tuples become prefixItems; t.Integer's string branch goes", () => {
    const out = normaliseSchema(
      {
        $id: "#/components/schemas/Outer",
        type: "object",
        error: "must be an object",
        properties: {
          error: { type: "string", error: "x" },
          inner: { $id: "#/components/schemas/Inner", type: "object" },
          maybe: { $id: "#/components/schemas/Inner", type: ["object", "null"] },
          pair: { type: "array", items: [{ type: "number" }, { type: "number" }], additionalItems: false },
          n: {
            minimum: 1,
            error: "m",
            anyOf: [
              { type: "string", format: "integer", default: 0 },
              { type: "integer", minimum: 1 },
            ],
          },
        },
      },
      true,
    );
    expect(out).toEqual({
      type: "object",
      properties: {
        error: { type: "string" },
        inner: { $ref: "#/components/schemas/Inner" },
        maybe: { anyOf: [{ $ref: "#/components/schemas/Inner" }, { type: "null" }] },
        pair: { type: "array", prefixItems: [{ type: "number" }, { type: "number" }], maxItems: 2 },
        n: { minimum: 1, type: "integer" },
      },
    });
  });
});
