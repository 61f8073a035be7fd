-- Fair claims across tenants (docs/runs.md "Fairness"): the claim query orders tenants with due
-- runs by their RUNNING runs, then by when they were last served (their latest started_at); this
-- index answers "latest started_at of a tenant" without reading the tenant's run history.
create index scenario_run_tenant_started_idx on scenario_run (tenant_id, started_at desc) where started_at is not null;
