-- The W3C trace id of the request that triggered a run (src/platform/trace.ts): carried in the
-- outbox and Kafka headers, continued by the worker and sent to Trino, so one grep follows a run.
alter table scenario_run add column if not exists trace_id text;
