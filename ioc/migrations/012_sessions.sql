-- Server-side sessions: the cookie carries a random id (only its SHA-256 is kept here), so that logging
-- out, a password change, disabling a user and revoking a kiosk token end the session at once.
CREATE TABLE sessions (
    id_sha256  text PRIMARY KEY,
    username   text REFERENCES users (username) ON DELETE CASCADE,
    kiosk_id   bigint REFERENCES kiosk_tokens (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    ended_at   timestamptz,
    CHECK ((username IS NULL) <> (kiosk_id IS NULL))
);
CREATE INDEX sessions_username ON sessions (username) WHERE ended_at IS NULL;
CREATE INDEX sessions_kiosk ON sessions (kiosk_id) WHERE ended_at IS NULL;

-- Accounts are no longer locked after failed sign-ins (the web server slows guesses down instead).
UPDATE users SET locked_until = NULL;
