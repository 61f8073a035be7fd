/**
 * The metadata ports on one Postgres database: a repository per aggregate and the unit of work
 * that commits several of them together. Services and the worker take these (or the parts they
 * use); only the repositories speak SQL.
 */
import { type Sql, transactions } from "./adapters/postgres";
import { createBumpRepo } from "./cache/bump-repo";
import { createCurveRepo } from "./curves/repo";
import { createConfigRepo } from "./flags/repo";
import { createOutputMetaRepo } from "./outputs/output-meta";
import { createOutboxRepo } from "./runs/outbox";
import { createRunRepo } from "./runs/repo";
import { createScenarioRepo } from "./scenarios/repo";

export function createMetadata(sql: Sql) {
  return {
    transaction: transactions(sql),
    scenarios: createScenarioRepo(sql),
    runs: createRunRepo(sql),
    curves: createCurveRepo(sql),
    runtimeConfig: createConfigRepo(sql),
    outbox: createOutboxRepo(sql),
    cacheBumps: createBumpRepo(sql),
    outputs: createOutputMetaRepo(sql),
  };
}

export type Metadata = ReturnType<typeof createMetadata>;
