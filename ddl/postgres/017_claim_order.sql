-- A claim (nextQueued in src/runs/repo.ts) takes each tenant's first due run in priority, then age
-- order. It found them by reading every due run and sorting them all: with 50,000 runs queued over
-- 10 tenants (and 200,000 finished), 132-140 ms of Postgres per claim, so draining a queue cost
-- time in the square of its length. Now the tenants with queued runs are found one index probe
-- per tenant (the next tenant after the last), and each tenant's first due run is the first
-- entry of this index that is due: 5-8 ms for the same claim (EXPLAIN ANALYZE in a new session,
-- three runs each; 0.26 ms on a warm connection, `bun bench/runs.ts --runs-sections claim`);
-- Kafka mode's claim check (otherTenantAhead) 38-50 ms before, 5-10 ms after. Without this index
-- the new queries took 420-550 ms.
-- Partial: only queued runs that are not cancelled are in it, so it stays as small as the queue.
create index scenario_run_queued_order_idx on scenario_run
  (tenant_id, (case priority when 'CRITICAL' then 0 when 'HIGH' then 1 when 'NORMAL' then 2 else 3 end), created_at, id)
  where state = 'QUEUED' and not cancel_requested;
