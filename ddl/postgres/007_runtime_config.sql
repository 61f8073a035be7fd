-- Runtime configuration: rate-limit and feature-flag overrides per tenant (scope '_global' for all
-- tenants), changed through /v1/admin/config without a restart. Replicas poll the one-row version
-- table; a change bumps it in the same transaction, which also serializes concurrent writers.
create table runtime_config (
  scope text not null,                 -- a tenant id, or '_global'
  kind text not null check (kind in ('ratelimit', 'feature')),
  name text not null,                  -- '' for ratelimit; the feature's name
  value jsonb not null,
  version bigint not null,
  updated_by text not null,
  updated_at timestamptz not null default now(),
  primary key (scope, kind, name)
);

create table runtime_config_version (
  id boolean primary key default true check (id),
  version bigint not null
);
insert into runtime_config_version (id, version) values (true, 0);

create table runtime_config_audit (
  id bigserial primary key,
  changed_at timestamptz not null default now(),
  actor text not null,
  request_id text,
  scope text not null,
  kind text not null,
  name text not null,
  old_value jsonb,                     -- null: there was no override
  new_value jsonb,                     -- null: the override was removed
  version bigint not null
);
create index runtime_config_audit_scope_idx on runtime_config_audit (scope, id desc);
