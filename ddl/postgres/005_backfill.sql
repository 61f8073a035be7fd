-- Backfill ledger: runs whose Postgres outputs have been copied into Iceberg (src/outputs/backfill.ts).
-- A row is written in the same transaction that finishes the copy, so a restarted backfill skips
-- exactly the runs that are complete in Iceberg.
create table output_backfill (
  run_id    uuid primary key references scenario_run (id) on delete cascade,
  rows      bigint not null,
  copied_at timestamptz not null default clock_timestamp()
);
