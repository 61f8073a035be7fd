-- Scenario metadata: definitions, their runs and an append-only event log.
-- Tenant ids are text (they come from tokens and headers, not from a tenants table).

create table scenario (
  id            uuid primary key default gen_random_uuid(),
  tenant_id     text not null,
  name          text not null,
  description   text,
  status        text not null default 'active' check (status in ('draft', 'active', 'archived')),
  assumptions   jsonb not null default '[]'::jsonb,
  parameters    jsonb not null default '{}'::jsonb,
  tags          text[] not null default '{}',
  version       integer not null default 1,
  created_by    text,
  created_at    timestamptz not null default clock_timestamp(),
  updated_at    timestamptz not null default clock_timestamp()
);

-- A name is unique within a tenant, case-insensitively: this index is what turns 50 concurrent
-- creates of one name into one row and 49 conflicts.
create unique index scenario_tenant_name_uq on scenario (tenant_id, lower(name));
-- Keyset paging: newest first, id breaks ties.
create index scenario_tenant_created_idx on scenario (tenant_id, created_at desc, id desc);
create index scenario_created_idx on scenario (created_at desc, id desc);
create index scenario_tags_idx on scenario using gin (tags);

create table scenario_run (
  id              uuid primary key default gen_random_uuid(),
  scenario_id     uuid not null references scenario (id) on delete cascade,
  tenant_id       text not null,
  state           text not null default 'QUEUED'
                  check (state in ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
  priority        text not null default 'NORMAL' check (priority in ('LOW', 'NORMAL', 'HIGH', 'CRITICAL')),
  code_version    text,
  options         jsonb not null default '{}'::jsonb,
  input_hash      text,
  run_key         text,
  idempotency_key text,
  attempts        integer not null default 0,
  error           jsonb,
  created_at      timestamptz not null default clock_timestamp(),
  queued_at       timestamptz not null default clock_timestamp(),
  started_at      timestamptz,
  finished_at     timestamptz,
  updated_at      timestamptz not null default clock_timestamp()
);

create index scenario_run_scenario_created_idx on scenario_run (scenario_id, created_at desc, id desc);
create index scenario_run_tenant_state_idx on scenario_run (tenant_id, state);
create unique index scenario_run_idempotency_uq on scenario_run (tenant_id, scenario_id, idempotency_key)
  where idempotency_key is not null;

create table scenario_event (
  id          bigint generated always as identity primary key,
  tenant_id   text not null,
  scenario_id uuid not null references scenario (id) on delete cascade,
  run_id      uuid references scenario_run (id) on delete cascade,
  event_type  text not null,
  payload     jsonb not null default '{}'::jsonb,
  created_at  timestamptz not null default clock_timestamp()
);

create index scenario_event_scenario_idx on scenario_event (scenario_id, id);
create index scenario_event_run_idx on scenario_event (run_id, id) where run_id is not null;
