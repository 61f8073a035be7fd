-- Operational metrics: one value per (time, metric), e.g. the bench's query p95s
-- (`bun run bench --store-metrics`, docs/performance.md), as the guide's ops metrics table
-- (`timescale.public.ops_metrics`) stores query p95s. A Timescale hypertable on `ts` when the
-- extension is installed in this database; a plain table (with a time index) otherwise.
-- Idempotent: the bench runs this file itself against a database that may not be migrated.
create table if not exists ops_metrics (
  ts timestamptz not null default now(),
  source text not null,                       -- who wrote it: 'bench'
  metric text not null,                       -- e.g. 'query.cached.c10.p95'
  value double precision not null,
  unit text not null default '',              -- 'ms', 'rows/s', 'ratio'
  labels jsonb not null default '{}'::jsonb   -- suite, host, git commit, ...
);
create index if not exists ops_metrics_metric_ts on ops_metrics (metric, ts desc);

do $$
begin
  if exists (select 1 from pg_extension where extname = 'timescaledb') then
    execute 'select create_hypertable(''ops_metrics'', ''ts'', if_not_exists => true, migrate_data => true)';
  end if;
end
$$;
