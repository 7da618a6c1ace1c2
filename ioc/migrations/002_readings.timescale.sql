-- TimescaleDB: a hypertable chunked on time (documented API: create_hypertable with by_range,
-- TimescaleDB >= 2.13). Written against the documentation; it cannot run on the development machine.
CREATE TABLE readings (
    series_id  int NOT NULL,
    ts         timestamptz NOT NULL,
    value      double precision NOT NULL,
    PRIMARY KEY (series_id, ts)
);
SELECT create_hypertable('readings', by_range('ts', %(partition_interval)s::interval));
