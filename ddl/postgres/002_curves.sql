-- Baseline forward curves. `curve` holds each curve's identity (market/ISO, location, product or
-- fuel, block, unit) and a summary the importer keeps in step; `curve_observation` holds one mid
-- per curve, as-of date and contract month. Curves are reference data shared by all tenants.

create table curve (
  curve_key      text primary key,
  market         text not null,
  location       text not null,
  product        text not null check (product in ('power', 'natural_gas', 'coal', 'co2', 'oil')),
  block          text not null check (block in ('ON_PEAK', 'OFF_PEAK', 'ATC')),
  unit           text not null,
  first_month    date not null,
  last_month     date not null,
  latest_asof    date not null,
  observations   bigint not null,
  updated_at     timestamptz not null default clock_timestamp()
);

create table curve_observation (
  curve_key      text not null references curve (curve_key) on delete cascade,
  asof_date      date not null,
  contract_month date not null check (extract(day from contract_month) = 1),
  mid            double precision not null,
  primary key (curve_key, asof_date, contract_month)
);
