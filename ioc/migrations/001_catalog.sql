-- Areas, entities and metrics mirror config/region.yaml and config/metrics.yaml (synced at start-up).
-- Rows are never deleted: an entity removed from config is marked inactive so its history stays readable.
CREATE TABLE areas (
    code        text PRIMARY KEY,
    parent      text REFERENCES areas (code) DEFERRABLE INITIALLY DEFERRED,
    depth       int NOT NULL,
    name_vi     text NOT NULL,
    name_en     text NOT NULL,
    level_vi    text NOT NULL,
    level_en    text NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    population  bigint,
    active      boolean NOT NULL DEFAULT true
);

CREATE TABLE metrics (
    key          text PRIMARY KEY,
    domain       text NOT NULL,
    unit         text NOT NULL,
    label_vi     text NOT NULL,
    label_en     text NOT NULL,
    aggregation  text NOT NULL,
    cadence      interval NOT NULL,
    direction    text,
    warning      double precision,
    critical     double precision,
    headline     boolean NOT NULL DEFAULT false,
    active       boolean NOT NULL DEFAULT true
);

CREATE TABLE entities (
    id       text PRIMARY KEY,
    kind     text NOT NULL,
    domain   text NOT NULL,
    area     text NOT NULL REFERENCES areas (code),
    name_vi  text NOT NULL,
    name_en  text NOT NULL,
    lat      double precision NOT NULL,
    lon      double precision NOT NULL,
    attrs    jsonb NOT NULL DEFAULT '{}',
    active   boolean NOT NULL DEFAULT true
);
CREATE INDEX entities_area ON entities (area);

-- One row per (entity, metric): readings carry the 4-byte id, not two strings, which keeps the
-- biggest table and its primary key narrow.
CREATE TABLE series (
    id      serial PRIMARY KEY,
    entity  text NOT NULL REFERENCES entities (id),
    metric  text NOT NULL REFERENCES metrics (key),
    UNIQUE (entity, metric)
);
CREATE INDEX series_metric ON series (metric);

-- "Now" queries read this table: O(series), never a scan of history.
CREATE TABLE latest (
    series_id  int PRIMARY KEY REFERENCES series (id),
    ts         timestamptz NOT NULL,
    value      double precision NOT NULL
);

CREATE TABLE dead_letters (
    id        bigserial PRIMARY KEY,
    received  timestamptz NOT NULL,
    source    text NOT NULL,
    reason    text NOT NULL,
    payload   text NOT NULL
);
CREATE INDEX dead_letters_received ON dead_letters (received);
