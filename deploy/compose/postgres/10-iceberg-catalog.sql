-- Runs once, when the postgres container initialises an empty data volume
-- (/docker-entrypoint-initdb.d): the database of Trino's Iceberg JDBC catalog and its two tables,
-- from the same file deploy/local/services.sh applies. ddl/postgres/ is applied by the migrate job.
create database aurum_iceberg;
\connect aurum_iceberg
\i /iceberg/iceberg-jdbc-catalog.sql
