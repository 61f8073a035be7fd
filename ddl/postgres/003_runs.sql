-- Runs: options, dedupe, lease and retry bookkeeping; the outbox the Kafka relay publishes; and
-- the Postgres output store (`scenario_output`, the same columns as iceberg.market.scenario_output).

alter table scenario_run
  add column seed             bigint,
  add column timeout_minutes  integer not null default 60 check (timeout_minutes between 1 and 1440),
  add column max_retries      integer not null default 3 check (max_retries between 0 and 10),
  add column progress         real not null default 0 check (progress between 0 and 1),
  add column cancel_requested boolean not null default false,
  add column lease_owner      text,
  add column lease_expires_at timestamptz,
  add column next_attempt_at  timestamptz not null default clock_timestamp(),
  add column rows_written     bigint not null default 0,
  add column requested_by     text;

-- Fingerprint dedupe: one live-or-succeeded run per identical input. FAILED and CANCELLED runs
-- leave the index, so the same input may be run again after them.
create unique index scenario_run_fingerprint_uq on scenario_run (tenant_id, scenario_id, input_hash)
  where state in ('QUEUED', 'RUNNING', 'SUCCEEDED');
-- The embedded dispatcher and lease reclaim look for runs to claim.
create index scenario_run_claim_idx on scenario_run (state, next_attempt_at) where state in ('QUEUED', 'RUNNING');

create table run_outbox (
  id         bigint generated always as identity primary key,
  run_id     uuid not null references scenario_run (id) on delete cascade,
  topic      text not null,
  msg_key    text not null,
  headers    jsonb not null default '{}'::jsonb,
  payload    jsonb not null,
  created_at timestamptz not null default clock_timestamp(),
  sent_at    timestamptz
);
create index run_outbox_unsent_idx on run_outbox (id) where sent_at is null;

create table scenario_output (
  tenant_id      text not null,
  scenario_id    uuid not null,
  run_id         uuid not null references scenario_run (id) on delete cascade,
  asof_date      date not null,
  curve_key      text not null,
  tenor_type     text not null,
  contract_month date not null,
  tenor_label    text not null,
  metric         text not null,
  value          double precision not null,
  band_lower     double precision,
  band_upper     double precision,
  attribution    jsonb,
  version_hash   text not null,
  computed_ts    timestamptz not null,
  primary key (run_id, metric, curve_key, tenor_type, contract_month)
);
create index scenario_output_scenario_idx on scenario_output (scenario_id, run_id);
