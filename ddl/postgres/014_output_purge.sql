-- Deleting a scenario used to delete its output rows in the same statement (runs cascaded to
-- scenario_output): millions of rows held the DELETE, and its locks, for as long as that took.
-- Now a deleted run's id is queued here (by the trigger, whatever deletes the run: a scenario's
-- cascade or a direct delete) and the output purge (src/outputs/purge.ts) deletes its rows in
-- bounded batches, one short transaction each. A run's rows are unreachable from the moment the
-- run is gone (every read goes through scenario_run), so nothing reads them meanwhile.
alter table scenario_output drop constraint if exists scenario_output_run_id_fkey;

create table output_purge (
  run_id      uuid primary key,
  tenant_id   text not null,
  scenario_id uuid not null,
  queued_at   timestamptz not null default clock_timestamp()
);

create function queue_output_purge() returns trigger language plpgsql as $$
begin
  insert into output_purge (run_id, tenant_id, scenario_id) values (old.id, old.tenant_id, old.scenario_id)
  on conflict (run_id) do nothing;
  return old;
end;
$$;

create trigger scenario_run_output_purge before delete on scenario_run
  for each row execute function queue_output_purge();
