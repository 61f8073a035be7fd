-- The mart of latest output values: one row per natural key (scenario, metric, curve, tenor)
-- taken from the SUCCEEDED run with the greatest as-of date, then the most recent computation.
-- /metrics/latest computes the same rollup with its filters applied first, walking each run's
-- primary key (src/outputs/pg-reader.ts), so no extra index slows the output writers; a test
-- keeps the two equal.
create view mart_scenario_output as
select distinct on (o.scenario_id, o.metric, o.curve_key, o.tenor_type, o.contract_month)
  o.tenant_id, o.scenario_id, o.curve_key, o.tenor_type, o.contract_month, o.tenor_label, o.metric,
  o.value, o.band_lower, o.band_upper, o.attribution, o.run_id, o.asof_date, o.version_hash, o.computed_ts
from scenario_output o
join scenario_run r on r.id = o.run_id and r.state = 'SUCCEEDED'
order by o.scenario_id, o.metric, o.curve_key, o.tenor_type, o.contract_month, o.asof_date desc, o.computed_ts desc, o.run_id desc;
