/** How a failed attempt is shown on its run: classified codes, readable messages, a retry decision. */
import { afterAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { PostgresError as CopyPostgresError } from "../../src/adapters/pg-copy";
// The adapter gives postgres.js's server errors their retry verdict when it is loaded, as every process that talks to Postgres loads it.
import "../../src/adapters/postgres";
import { TrinoError } from "../../src/adapters/trino";
import { EngineValidationError } from "../../src/engine";
import { AppError } from "../../src/platform/errors";
import { classifyFailure } from "../../src/worker/failure";
import { WorkerPool } from "../../src/worker/pool";
import { WORKED_EXAMPLE } from "./engine/helpers";

/** A server error as postgres.js raises it (its constructor copies the ErrorResponse's fields). */
const pgServerError = (message: string, code: string) => new postgres.PostgresError({ message, code } as unknown as string);
const pgError = () => pgServerError('duplicate key value violates unique constraint "scenario_output_pkey"', "23505");

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
    const err = new EngineValidationError("invalid engine input: /asof_date: asofDate must be a date YYYY-MM-DD");
    for (const step of ["input", "engine", "output"] as const) {
      expect(classifyFailure(err, step)).toEqual({ code: "INVALID_INPUT", message: err.message, retryable: false, redacted: false });
    }
  });

  test("an error's name decides nothing: only its code and its retryable flag do (negative cases)", () => {
    // Named like the engine's refusal, without its code: an unexpected error, redacted and retried.
    const named = Object.assign(new Error("invalid engine input: /asof_date"), { name: "EngineValidationError" });
    expect(classifyFailure(named, "engine")).toMatchObject({ code: "INTERNAL", retryable: true, redacted: true });
    // Named like a Postgres error with a data exception's code, without a verdict of its own: retried like any store error.
    const lookalike = Object.assign(new Error("numeric field overflow"), { name: "PostgresError", code: "22003" });
    expect(classifyFailure(lookalike, "output")).toMatchObject({ code: "OUTPUT_WRITE_FAILED", retryable: true });
    // The engine's refusal with its verdict turned: the flag is what counts.
    expect(classifyFailure(Object.assign(new EngineValidationError("x"), { retryable: true }), "engine")).toMatchObject({ code: "INVALID_INPUT", retryable: true });
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
    // A Postgres data exception (SQLSTATE class 22) from either client: postgres.js's, and the COPY client's.
    const outOfRange = pgServerError("numeric field overflow", "22003");
    expect(outOfRange).toMatchObject({ name: "PostgresError", retryable: false });
    expect(classifyFailure(outOfRange, "output")).toMatchObject({ code: "OUTPUT_WRITE_FAILED", retryable: false });
    expect(classifyFailure(new CopyPostgresError({ C: "22P02", M: "invalid input syntax" }), "output")).toMatchObject({ retryable: false });
    expect(classifyFailure(pgServerError("numeric field overflow", "22003"), "input")).toMatchObject({ code: "INPUT_UNAVAILABLE", retryable: false });
    // Other server errors are worth another attempt.
    expect(classifyFailure(new CopyPostgresError({ C: "57014", M: "canceling statement due to statement timeout" }), "output")).toMatchObject({ retryable: true });
    expect(pgError()).toMatchObject({ retryable: true });
    // Trino's verdict: a user error is not retried, anything else is.
    expect(classifyFailure(new TrinoError("line 1:8: Table 'x' does not exist", "TABLE_NOT_FOUND", "USER_ERROR"), "output")).toMatchObject({ retryable: false });
    expect(classifyFailure(new TrinoError("no nodes available", "NO_NODES_AVAILABLE", "INTERNAL_ERROR"), "output")).toMatchObject({ retryable: true });
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
    // Its code and retry verdict crossed as plain fields; the class did not.
    expect(err).toMatchObject({ name: "EngineValidationError", code: "INVALID_INPUT", retryable: false });
    expect(err).not.toBeInstanceOf(EngineValidationError);
    const failure = classifyFailure(err, "engine");
    expect(failure).toMatchObject({ code: "INVALID_INPUT", retryable: false });
    expect(failure.message).toContain("asof");
  });
});
