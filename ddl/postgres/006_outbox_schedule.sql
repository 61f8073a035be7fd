-- Outbox rows can be due later (a retry after its backoff), and the relay reads due rows in order.
alter table run_outbox add column available_at timestamptz not null default clock_timestamp();
drop index run_outbox_unsent_idx;
create index run_outbox_due_idx on run_outbox (available_at, id) where sent_at is null;
