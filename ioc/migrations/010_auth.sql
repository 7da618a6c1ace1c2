-- People, wall-screen tokens and the audit log.
-- Roles: operator (reads all, acknowledges), officer (own domains: reads, acknowledges, edits their rules,
-- manual entry), leader (reads all, briefs), admin (users, feeds, rules, settings).
CREATE TABLE users (
    username        text PRIMARY KEY CHECK (username ~ '^[a-z0-9._-]{2,64}$'),
    display_name    text NOT NULL,
    role            text NOT NULL CHECK (role IN ('operator', 'officer', 'leader', 'admin')),
    domains         text[] NOT NULL DEFAULT '{}',
    password_hash   text NOT NULL,
    active          boolean NOT NULL DEFAULT true,
    failed_logins   int NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    last_login      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- A wall screen signs in with a token (only its SHA-256 is kept) limited to the read-only wall views.
CREATE TABLE kiosk_tokens (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL,
    token_sha256 text NOT NULL UNIQUE,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used    timestamptz,
    revoked_at   timestamptz
);

CREATE TABLE audit_log (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text NOT NULL,
    action  text NOT NULL,
    target  text NOT NULL,
    before  jsonb,
    after   jsonb
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
