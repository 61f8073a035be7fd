-- Cache version bumps owed by committed changes (src/cache/bumps.ts): a row is written in the
-- transaction of the change that needs the bump (a run's outputs committing, an admin marking a run
-- SUCCEEDED, a scenario's deletion) and deleted once the tenant's version moved after that commit.
-- A row left behind (the process died between its commit and the bump, or Redis was unreachable)
-- is bumped by the sweep that every process with a Redis cache runs.
create table if not exists cache_bump_pending (
  id bigserial primary key,
  tenant_id text not null,
  scenario_id uuid,
  run_id uuid,
  reason text not null,
  created_at timestamptz not null default clock_timestamp()
);
