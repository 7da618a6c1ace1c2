-- Plain PostgreSQL rollups: per-minute and per-hour aggregates of readings, kept by ioc.rollups
-- (a scheduled job). Keyed like readings, so one series' range is one index range scan.
-- avg is weighted by count when buckets combine; last is the value at the bucket's latest reading.
CREATE TABLE rollup_1m (
    series_id  int NOT NULL,
    bucket     timestamptz NOT NULL,
    avg        double precision NOT NULL,
    min        double precision NOT NULL,
    max        double precision NOT NULL,
    count      int NOT NULL,
    last       double precision NOT NULL,
    PRIMARY KEY (series_id, bucket)
);
CREATE TABLE rollup_1h (LIKE rollup_1m INCLUDING ALL);

-- Hours whose readings changed since they were last rolled up. The writer upserts the hours of every
-- commit in the same transaction as the readings (late and backfilled readings included), with a new
-- generation; the refresh recomputes an hour and deletes its row only if the generation is unchanged,
-- so a commit racing the refresh leaves the hour dirty for the next run. Queries read raw readings for
-- dirty hours, so charts are current without waiting for the refresh.
CREATE SEQUENCE rollup_dirty_gen;
CREATE TABLE rollup_dirty (
    hour   timestamptz PRIMARY KEY,
    gen    bigint NOT NULL DEFAULT nextval('rollup_dirty_gen'),
    marked timestamptz NOT NULL DEFAULT now()
);
