-- Where the output purge (src/outputs/purge.ts) has got to in a queued run: the primary key after
-- `run_id` of the last row it deleted. Each batch deletes the next rows after it in key order, so
-- its index scan starts past the run's deleted rows. Found from the start of the run instead, as
-- until now, every batch stepped over the index entries of all the rows deleted before it (they
-- stay in the index until a vacuum): one run of 1,000,000 rows took batches of 58 ms at first and
-- 251 ms at the end, and 77 s in all. Null: from the start. Kept with the queue entry, in the
-- batch's transaction, so any process goes on from there.
alter table output_purge
  add column after_metric text,
  add column after_curve_key text,
  add column after_tenor_type text,
  add column after_contract_month date;
