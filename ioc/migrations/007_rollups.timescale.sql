-- TimescaleDB rollups: continuous aggregates with the same names and columns as the plain tables,
-- so that ioc.queries reads either path alike. Written against the documented API (hierarchical
-- continuous aggregates, TimescaleDB >= 2.9; real-time aggregation switched on explicitly because it
-- is off by default since 2.13); it cannot run on the development machine. Refresh, retention and
-- compression policies are reconciled with config at start-up by ioc.timescale.reconcile_policies.
CREATE MATERIALIZED VIEW rollup_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT series_id,
       time_bucket(INTERVAL '1 minute', ts) AS bucket,
       avg(value) AS avg, min(value) AS min, max(value) AS max,
       count(*)::int AS count, last(value, ts) AS last
FROM readings
GROUP BY series_id, time_bucket(INTERVAL '1 minute', ts)
WITH NO DATA;

CREATE MATERIALIZED VIEW rollup_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT series_id,
       time_bucket(INTERVAL '1 hour', bucket) AS bucket,
       sum(avg * count) / sum(count) AS avg, min(min) AS min, max(max) AS max,
       sum(count)::int AS count, last(last, bucket) AS last
FROM rollup_1m
GROUP BY series_id, time_bucket(INTERVAL '1 hour', bucket)
WITH NO DATA;

-- Same table as on plain PostgreSQL, used the same way: the writer marks the hours each commit touched,
-- queries read those hours raw, and the rollups job refreshes the continuous aggregates over them
-- (real-time aggregation covers only data newer than the watermark, so late readings need it).
CREATE SEQUENCE rollup_dirty_gen;
CREATE TABLE rollup_dirty (
    hour   timestamptz PRIMARY KEY,
    gen    bigint NOT NULL DEFAULT nextval('rollup_dirty_gen'),
    marked timestamptz NOT NULL DEFAULT now()
);
