-- A run's inputs are data: everything the engine reads is fixed when the run is triggered
-- (src/runs/inputs.ts). `scenario_run.inputs` holds the assumptions, the effective parameters,
-- the options that change results, the run's as-of date and the curve snapshot it reads; the
-- worker executes exactly that, never the scenario's current row.
alter table scenario_run add column if not exists inputs jsonb;

-- One row per curve and as-of date: the rows of that snapshot and their content hash, kept in
-- step by the importer (src/curves/repo.ts). A run records the hashes it was triggered with; the
-- worker recomputes them from the rows it reads and refuses a snapshot that changed since.
-- The hash is sha256 over (yyyymm as int4, mid as float8) in binary, ordered by month, so no
-- text formatting setting can change it.
create table if not exists curve_snapshot (
  curve_key    text not null references curve (curve_key) on delete cascade,
  asof_date    date not null,
  months       integer not null,
  content_hash text not null,
  primary key (curve_key, asof_date)
);
create index if not exists curve_snapshot_asof_idx on curve_snapshot (asof_date);

insert into curve_snapshot (curve_key, asof_date, months, content_hash)
select curve_key, asof_date, count(*)::int,
       encode(sha256(string_agg(int4send((extract(year from contract_month) * 100 + extract(month from contract_month))::int) || float8send(mid), ''::bytea order by contract_month)), 'hex')
from curve_observation group by curve_key, asof_date
on conflict (curve_key, asof_date) do nothing;
