-- Monte Carlo accuracy of a run's quarter and calendar bands (docs/model.md §7.5): the standard
-- errors of the band quantiles, summarised per run by the engine and written with the outputs.
-- Null for runs that have not succeeded (and for runs finished before this column existed).
alter table scenario_run add column band_stats jsonb;
