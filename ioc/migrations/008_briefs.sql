-- The daily brief for leaders: one row per local day and language. `content` is what the page and the
-- PDF render (numbers, names and sentences, fixed at build time so the archive reads as it was sent);
-- rebuilding a day replaces its row.
CREATE TABLE briefs (
    day           date NOT NULL,
    lang          text NOT NULL CHECK (lang IN ('vi', 'en')),
    content       jsonb NOT NULL,
    pdf           bytea NOT NULL,
    generated_at  timestamptz NOT NULL,
    emailed_at    timestamptz,
    PRIMARY KEY (day, lang)
);
