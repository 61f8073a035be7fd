# Make targets the user's guide names (docs/guide-map.md). Everything else is an npm script.
# Bun comes from node_modules (npm install); .services/env (npm run services:up) says where Trino is.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

ROWS ?= 20000
ITERATIONS ?= 20
# Where ops_metrics rows go; empty: AURUM_METRICS_DSN, then AURUM_APP_DB_DSN, else printed only.
METRICS_DSN ?=

.PHONY: trino-harness-metrics help

help:
	@echo "make trino-harness-metrics [ROWS=$(ROWS)] [ITERATIONS=$(ITERATIONS)] [METRICS_DSN=postgres://...]"
	@echo "  times the output queries on the Iceberg store through Trino, prints p50/p95 and stores them in ops_metrics"

trino-harness-metrics:
	bun bench/trino-harness.ts --rows $(ROWS) --iterations $(ITERATIONS) $(if $(METRICS_DSN),--metrics-dsn $(METRICS_DSN))
