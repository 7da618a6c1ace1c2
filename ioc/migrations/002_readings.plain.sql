-- Plain PostgreSQL: range partitions on time keep each primary-key index small (COPY into one
-- 20M-row table with this key slowed to a quarter of its speed), and retention drops whole
-- partitions. Partitions are created ahead of the data by ioc.db.ensure_partitions.
CREATE TABLE readings (
    series_id  int NOT NULL,
    ts         timestamptz NOT NULL,
    value      double precision NOT NULL,
    PRIMARY KEY (series_id, ts)
) PARTITION BY RANGE (ts);
