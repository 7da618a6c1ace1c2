-- Which feed last wrote each series, so that a value from a late feed is shown as stale.
ALTER TABLE latest ADD COLUMN feed text;

-- Feed health as data: written by the runtime on every state change and on each tick, read by
-- /feeds and by the alert engine ("feed silent").
CREATE TABLE feed_health (
    feed               text PRIMARY KEY,
    state              text NOT NULL CHECK (state IN ('ok', 'late', 'failing', 'disabled', 'waiting')),
    since              timestamptz NOT NULL,
    last_success       timestamptz,
    last_error         text,
    last_error_at      timestamptz,
    readings_per_min   double precision NOT NULL DEFAULT 0,
    dead_letters_per_min double precision NOT NULL DEFAULT 0,
    updated            timestamptz NOT NULL
);
