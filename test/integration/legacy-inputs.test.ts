// A run triggered before migration 010 has no recorded inputs: the worker resolves them from its
// scenario when it first runs it (src/worker/run-store.ts, recordLegacyInputs). Inputs the store
// refuses fail the run for good (INVALID_INPUT, not retried); the database away is not the run's
// fault: the run is retried, and the database's text stays in the log.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { createMetadata } from "../../src/metadata";
import type { RunRecord } from "../../src/runs/model";
import { classifyFailure } from "../../src/worker/failure";
import { createRunStore } from "../../src/worker/run-store";
import { createTestDb, type TestDb } from "../support/app";

const POLICY = [{ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2027, target: 0.5 } }];

describe("a run with no recorded inputs (triggered before migration 010)", () => {
  let db: TestDb;
  let scenarioId: string;
  beforeAll(async () => {
    // No curves loaded: the curve store is empty.
    db = await createTestDb("postgres");
    const [s] = await db.sql`insert into scenario (tenant_id, name, assumptions) values ('t-legacy', 'legacy inputs', ${db.sql.json(POLICY)}) returning id::text as id`;
    scenarioId = s?.id as string;
  });
  afterAll(() => db.drop());

  const legacyRun = (scenario_id: string) =>
    ({ id: crypto.randomUUID(), scenario_id, tenant_id: "t-legacy", parameters: {}, code_version: "v1", seed: 1, inputs: null }) as unknown as RunRecord;
  const engineInputError = (ports: Parameters<typeof createRunStore>[0], run: RunRecord) =>
    createRunStore(ports, "legacy-test", 1_000)
      .engineInput(run)
      .then(
        () => undefined,
        (e: unknown) => e,
      );

  test("inputs the curve store refuses (it holds no curve): INVALID_INPUT with the store's reason, not retried", async () => {
    const err = await engineInputError(createMetadata(db.sql), legacyRun(scenarioId));
    expect(err).toMatchObject({ code: "INVALID_INPUT", retryable: false });
    expect(classifyFailure(err, "input")).toMatchObject({ code: "INVALID_INPUT", retryable: false, redacted: false, message: expect.stringContaining("curve store is empty") });
  });

  test("a scenario deleted since: INVALID_INPUT, not retried", async () => {
    const err = await engineInputError(createMetadata(db.sql), legacyRun(crypto.randomUUID()));
    expect(classifyFailure(err, "input")).toEqual({ code: "INVALID_INPUT", message: "the run's scenario no longer exists", retryable: false, redacted: false });
  });

  test("the curve store's database away: INPUT_UNAVAILABLE and retried, not taken for a refusal of the inputs", async () => {
    const gone = postgres(db.url as string, { max: 1, onnotice: () => {} });
    await gone.end();
    const err = await engineInputError({ ...createMetadata(db.sql), curves: createMetadata(gone).curves }, legacyRun(scenarioId));
    expect(err).toBeInstanceOf(Error);
    expect(classifyFailure(err, "input")).toMatchObject({ code: "INPUT_UNAVAILABLE", retryable: true, redacted: true });
  });
});
