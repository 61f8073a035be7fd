/** How a failed attempt is shown on its run: classified codes, readable messages, a retry decision. */
import { afterAll, describe, expect, test } from "bun:test";
import { AppError } from "../../src/platform/errors";
import { classifyFailure } from "../../src/worker/failure";
import { WorkerPool } from "../../src/worker/pool";
import { WORKED_EXAMPLE } from "./engine/helpers";

const pgError = () => Object.assign(new Error('duplicate key value violates unique constraint "scenario_output_pkey"'), { name: "PostgresError", code: "23505" });

describe("classifyFailure", () => {
  test("an AppError keeps its code, message and retryable flag", () => {
    expect(classifyFailure(new AppError("CONFLICT", "the scenario changed"), "input")).toEqual({
      code: "CONFLICT",
      message: "the scenario changed",
      retryable: false,
      redacted: false,
    });
    expect(classifyFailure(new AppError("UNAVAILABLE", "try later"), "output")).toMatchObject({ code: "UNAVAILABLE", retryable: true });
  });

  test("engine validation keeps its readable message and is not retried, from any step", () => {
    const err = Object.assign(new Error("invalid engine input: /asof_date: asofDate must be a date YYYY-MM-DD"), { name: "EngineValidationError" });
    for (const step of ["input", "engine", "output"] as const) {
      expect(classifyFailure(err, step)).toEqual({ code: "INVALID_INPUT", message: err.message, retryable: false, redacted: false });
    }
  });

  test("an engine error with its own code (a non-finite value) keeps code and message and is not retried", () => {
    const err = Object.assign(new Error("curve PJM_W month 2027-01 produced Infinity"), { code: "NON_FINITE_OUTPUT" });
    expect(classifyFailure(err, "engine")).toEqual({ code: "NON_FINITE_OUTPUT", message: err.message, retryable: false, redacted: false });
    expect(classifyFailure(err, "output")).toMatchObject({ code: "NON_FINITE_OUTPUT", retryable: false });
  });

  test("database and store failures get a readable message without the driver's text, and are retried", () => {
    const output = classifyFailure(pgError(), "output");
    expect(output).toMatchObject({ code: "OUTPUT_WRITE_FAILED", retryable: true, redacted: true });
    expect(output.message).not.toContain("scenario_output_pkey");
    const trino = classifyFailure(Object.assign(new Error("Query failed (#2026_1): line 1:8: Table 'iceberg.market.x' does not exist"), { code: "TABLE_NOT_FOUND" }), "output");
    expect(trino).toMatchObject({ code: "OUTPUT_WRITE_FAILED", retryable: true });
    expect(trino.message).not.toContain("iceberg");
    const input = classifyFailure(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }), "input");
    expect(input).toMatchObject({ code: "INPUT_UNAVAILABLE", retryable: true });
    expect(input.message).not.toContain("127.0.0.1");
  });

  test("a store error's own retry verdict counts: a Trino user error or a Postgres data exception is not retried", () => {
    const trinoUser = Object.assign(new Error("Trino query q1 failed: NUMERIC_VALUE_OUT_OF_RANGE (19): Value is out of range"), { retryable: false });
    const failure = classifyFailure(trinoUser, "output");
    expect(failure).toMatchObject({ code: "OUTPUT_WRITE_FAILED", retryable: false, redacted: true });
    expect(failure.message).toContain("retrying would not help");
    expect(failure.message).not.toContain("NUMERIC");
    const outOfRange = Object.assign(new Error("numeric field overflow"), { name: "PostgresError", code: "22003" });
    expect(classifyFailure(outOfRange, "output")).toMatchObject({ code: "OUTPUT_WRITE_FAILED", retryable: false });
    expect(classifyFailure(Object.assign(new Error("Trino is starting"), { retryable: true }), "output")).toMatchObject({ retryable: true });
  });

  test("anything else is INTERNAL with a generic message, retried as before", () => {
    const failure = classifyFailure(new TypeError("Cannot read properties of undefined (reading 'mid')"), "engine");
    expect(failure).toMatchObject({ code: "INTERNAL", retryable: true, redacted: true });
    expect(failure.message).not.toContain("undefined");
    expect(classifyFailure("a string", "engine")).toMatchObject({ code: "INTERNAL" });
  });
});

describe("engine errors across the thread boundary", () => {
  const pool = new WorkerPool(1);
  afterAll(() => pool.close());

  test("a validation error from the engine thread is classified INVALID_INPUT with the engine's message", async () => {
    const err = await pool.run({ ...WORKED_EXAMPLE, asofDate: "0000-00-00" }).result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const failure = classifyFailure(err, "engine");
    expect(failure).toMatchObject({ code: "INVALID_INPUT", retryable: false });
    expect(failure.message).toContain("asof");
  });
});
