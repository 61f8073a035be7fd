-- Iceberg tables read by Aurum Scenarios. Applied by `deploy/local/services.sh up`
-- (statement by statement, through Trino's HTTP protocol). Must stay idempotent.

CREATE SCHEMA IF NOT EXISTS iceberg.market;

CREATE TABLE IF NOT EXISTS iceberg.market.scenario_output (
    tenant_id      varchar,
    scenario_id    varchar,
    run_id         varchar,
    asof_date      date,
    curve_key      varchar,
    tenor_type     varchar,
    contract_month date,
    tenor_label    varchar,
    metric         varchar,
    value          double,
    band_lower     double,
    band_upper     double,
    attribution    varchar,   -- JSON text
    version_hash   varchar,
    computed_ts    timestamp(6) with time zone,
    -- Iceberg only: which write of the run put the row here (src/outputs/trino-store.ts)
    write_id       varchar
)
WITH (
    format = 'PARQUET',
    -- concurrent writers (workers, backfill) race for every commit; Iceberg retries the loser
    max_commit_retry = 10,
    -- Iceberg transform days(asof_date) is spelled day(asof_date) in Trino
    partitioning = ARRAY['scenario_id', 'metric', 'day(asof_date)']
);
