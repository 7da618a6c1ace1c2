-- The operator's workflow around alerts: assignment, comments, silences, maintenance windows, shift log.
ALTER TABLE alerts ADD COLUMN assigned_to text;
ALTER TABLE alerts ADD COLUMN flapping boolean NOT NULL DEFAULT false;

CREATE TABLE alert_comments (
    id        bigserial PRIMARY KEY,
    alert_id  bigint NOT NULL REFERENCES alerts (id),
    at        timestamptz NOT NULL DEFAULT now(),
    author    text NOT NULL,
    body      text NOT NULL
);
CREATE INDEX alert_comments_alert ON alert_comments (alert_id, at);

-- A silence holds notifications (alerts still fire and show) for alerts matching every given matcher.
-- A maintenance window is a silence that recurs: weekly on `weekdays` (0 = Monday) from `daily_start`
-- for `daily_minutes`, local time, between starts_at and ends_at.
CREATE TABLE silences (
    id             bigserial PRIMARY KEY,
    rule           text,
    domain         text,
    area           text,
    subject        text,
    starts_at      timestamptz NOT NULL,
    ends_at        timestamptz NOT NULL,
    weekdays       int[],
    daily_start    time,
    daily_minutes  int,
    reason         text NOT NULL,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expired_at     timestamptz,
    CHECK (ends_at > starts_at),
    CHECK ((weekdays IS NULL) = (daily_start IS NULL) AND (daily_start IS NULL) = (daily_minutes IS NULL))
);

CREATE TABLE shift_log (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    author    text NOT NULL,
    alert_id  bigint REFERENCES alerts (id),
    body      text NOT NULL
);
CREATE INDEX shift_log_at ON shift_log (at DESC);
