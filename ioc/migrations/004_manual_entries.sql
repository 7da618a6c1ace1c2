-- Figures entered by hand (phoned in, on paper): every entry and correction is kept, with who, when
-- and the value it replaced; the reading itself holds the latest entry.
CREATE TABLE manual_entries (
    id              bigserial PRIMARY KEY,
    entered_at      timestamptz NOT NULL DEFAULT now(),
    entered_by      text NOT NULL,
    entity          text NOT NULL REFERENCES entities (id),
    metric          text NOT NULL REFERENCES metrics (key),
    ts              timestamptz NOT NULL,
    value           double precision NOT NULL,
    previous_value  double precision,
    note            text NOT NULL DEFAULT ''
);
CREATE INDEX manual_entries_entered_at ON manual_entries (entered_at DESC);
