-- Alert rules (seeded from config/alerts.yaml; edits keep their history), alerts and their events.
CREATE TABLE alert_rules (
    name        text PRIMARY KEY,
    definition  jsonb NOT NULL,
    source      text NOT NULL,           -- 'config' or the user who edited it
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alert_rule_history (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    definition  jsonb,                   -- NULL: the rule was removed
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per episode of a rule on one subject (an entity, or a feed for "feed silent" rules).
CREATE TABLE alerts (
    id               bigserial PRIMARY KEY,
    rule             text NOT NULL,
    subject          text NOT NULL,
    domain           text,
    area             text,
    state            text NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    severity         text NOT NULL CHECK (severity IN ('warning', 'critical')),
    value            double precision,
    threshold        double precision,
    pending_since    timestamptz NOT NULL,
    firing_since     timestamptz,
    last_active      timestamptz NOT NULL,   -- last time the condition held
    cleared_since    timestamptz,            -- firing, condition no longer holding: keep_firing_for counts from here
    resolved_at      timestamptz,
    acknowledged_by  text,
    acknowledged_at  timestamptz,
    ack_comment      text,
    labels           jsonb NOT NULL DEFAULT '{}',
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- One active alert per (rule, subject): a repeat updates it, never duplicates it.
CREATE UNIQUE INDEX alerts_one_active ON alerts (rule, subject) WHERE state IN ('pending', 'firing');
CREATE INDEX alerts_state ON alerts (state, severity);

CREATE TABLE alert_events (
    id        bigserial PRIMARY KEY,
    alert_id  bigint NOT NULL REFERENCES alerts (id),
    at        timestamptz NOT NULL,
    kind      text NOT NULL,   -- pending, firing, escalated, deescalated, resolved, cancelled, acknowledged, comment
    detail    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, at);
