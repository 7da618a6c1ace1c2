"""Users (argon2 password hashes), kiosk tokens, server-side sessions and the audit log, in PostgreSQL."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from psycopg_pool import ConnectionPool

from ioc.audit import audit
from ioc.auth import KIOSK, ROLES, User
from ioc.db import frame

SESSION_HOURS = 12  # one shift; a wall screen's session lasts until its token is revoked
KIOSK_SESSION_DAYS = 400
MIN_PASSWORD = 10
USERNAME = re.compile(r"^[a-z0-9._-]{2,64}$")

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the answer time the same either way.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class UserError(ValueError):
    """A bad user definition (CLI and admin forms show the message)."""


def _user(row: dict) -> User:
    return User(row["username"], row["display_name"], row["role"], tuple(row["domains"] or ()))


def _check(username: str, role: str, domains: list[str], known_domains: set[str] | None) -> None:
    if not USERNAME.match(username or ""):
        raise UserError("username: 2–64 characters of a-z, 0-9, '.', '_' or '-'")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if role == "officer" and not domains:
        raise UserError("an officer needs at least one domain")
    if known_domains is not None and (unknown := set(domains) - known_domains):
        raise UserError(f"unknown domain(s): {', '.join(sorted(unknown))}")


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise UserError(f"the password needs at least {MIN_PASSWORD} characters")


def add_user(db: ConnectionPool, username: str, password: str, role: str, domains: list[str] | None = None,
             display_name: str | None = None, actor: str = "cli", known_domains: set[str] | None = None) -> User:
    domains = sorted(set(domains or []))
    _check(username, role, domains, known_domains)
    _check_password(password)
    display_name = (display_name or username).strip()[:200]
    with db.connection() as conn, conn.transaction():
        if conn.execute("SELECT 1 FROM users WHERE username = %s", (username,)).fetchone():
            raise UserError(f"user '{username}' exists")
        conn.execute("INSERT INTO users (username, display_name, role, domains, password_hash) "
                     "VALUES (%s, %s, %s, %s, %s)", (username, display_name, role, domains, _hasher.hash(password)))
        audit(conn, actor, "user.add", username, None, {"role": role, "domains": domains, "name": display_name})
    return User(username, display_name, role, tuple(domains))


def update_user(db: ConnectionPool, username: str, actor: str, *, role: str | None = None,
                domains: list[str] | None = None, active: bool | None = None, password: str | None = None,
                known_domains: set[str] | None = None) -> None:
    with db.connection() as conn, conn.transaction():
        row = conn.execute("SELECT role, domains, active FROM users WHERE username = %s FOR UPDATE",
                           (username,)).fetchone()
        if row is None:
            raise UserError(f"no user '{username}'")
        before = {"role": row[0], "domains": list(row[1]), "active": row[2]}
        after = {"role": role or row[0], "domains": sorted(set(domains)) if domains is not None else list(row[1]),
                 "active": row[2] if active is None else active}
        _check(username, after["role"], after["domains"], known_domains)
        conn.execute("UPDATE users SET role = %s, domains = %s, active = %s WHERE username = %s",
                     (after["role"], after["domains"], after["active"], username))
        if password is not None:
            _check_password(password)
            conn.execute("UPDATE users SET password_hash = %s, failed_logins = 0, locked_until = NULL "
                         "WHERE username = %s", (_hasher.hash(password), username))
            after["password"] = "changed"
        if password is not None or not after["active"]:  # whoever held the old password is out at once
            ended = conn.execute("UPDATE sessions SET ended_at = now() WHERE username = %s AND ended_at IS NULL",
                                 (username,)).rowcount
            after["sessions_ended"] = ended
        audit(conn, actor, "user.update", username, before, after)


def users(db: ConnectionPool) -> pd.DataFrame:
    with db.connection() as conn:
        return frame(conn, "SELECT username, display_name, role, domains, active, failed_logins, locked_until, "
                           "last_login, created_at FROM users ORDER BY username")


def count_users(db: ConnectionPool) -> int:
    with db.connection() as conn:
        return conn.execute("SELECT count(*) FROM users").fetchone()[0]


def authenticate(db: ConnectionPool, username: str, password: str, now: datetime | None = None
                 ) -> tuple[User | None, str]:
    """(user, "ok") on success; (None, "invalid") otherwise — for an unknown user, a disabled one and a
    wrong password alike, in the same time. No account is ever locked (a lock is a way to keep someone
    out): the web server slows repeated failures down per (account, address) instead."""
    now = now or datetime.now(UTC)
    with db.connection() as conn, conn.transaction():
        row = conn.execute("SELECT username, display_name, role, domains, password_hash, active "
                           "FROM users WHERE username = %s FOR UPDATE",
                           ((username or "").strip().lower(),)).fetchone()
        if row is None:
            _verify(_DUMMY_HASH, password)
            return None, "invalid"
        name, display, role, domains, hashed, active = row
        if not _verify(hashed, password) or not active:
            conn.execute("UPDATE users SET failed_logins = failed_logins + 1 WHERE username = %s", (name,))
            return None, "invalid"
        if _hasher.check_needs_rehash(hashed):
            conn.execute("UPDATE users SET password_hash = %s WHERE username = %s", (_hasher.hash(password), name))
        conn.execute("UPDATE users SET failed_logins = 0, locked_until = NULL, last_login = %s WHERE username = %s",
                     (now, name))
    return _user({"username": name, "display_name": display, "role": role, "domains": domains}), "ok"


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password or "")
    except (VerificationError, InvalidHashError):
        return False


def load_user(db: ConnectionPool, username: str) -> User | None:
    """The user as stored now (None when gone or disabled): sessions re-read it so that a change of role or
    a disabled account takes effect on the next request."""
    with db.connection() as conn:
        cur = conn.execute("SELECT username, display_name, role, domains FROM users "
                           "WHERE username = %s AND active", (username,))
        row = cur.fetchone()
    return _user(dict(zip(("username", "display_name", "role", "domains"), row, strict=True))) if row else None


# --- kiosk tokens -------------------------------------------------------------------------------

def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def create_kiosk_token(db: ConnectionPool, name: str, actor: str) -> str:
    """A new wall-screen token; only its hash is stored, so this is the one time it can be read."""
    name = (name or "").strip()[:200]
    if not name:
        raise UserError("a kiosk token needs a name (which screen it is for)")
    token = secrets.token_urlsafe(32)
    with db.connection() as conn, conn.transaction():
        token_id = conn.execute("INSERT INTO kiosk_tokens (name, token_sha256, created_by) VALUES (%s, %s, %s) "
                                "RETURNING id", (name, _digest(token), actor)).fetchone()[0]
        audit(conn, actor, "kiosk.create", f"kiosk:{token_id}", None, {"name": name})
    return token


def revoke_kiosk_token(db: ConnectionPool, token_id: int, actor: str) -> None:
    with db.connection() as conn, conn.transaction():
        row = conn.execute("UPDATE kiosk_tokens SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL "
                           "RETURNING name", (token_id,)).fetchone()
        if row is None:
            raise UserError(f"no active kiosk token {token_id}")
        conn.execute("UPDATE sessions SET ended_at = now() WHERE kiosk_id = %s AND ended_at IS NULL", (token_id,))
        audit(conn, actor, "kiosk.revoke", f"kiosk:{token_id}", {"name": row[0]}, None)


def kiosk_tokens(db: ConnectionPool) -> pd.DataFrame:
    with db.connection() as conn:
        return frame(conn, "SELECT id, name, created_by, created_at, last_used, revoked_at FROM kiosk_tokens "
                           "ORDER BY id")


def kiosk_user(db: ConnectionPool, token: str) -> User | None:
    """The wall screen a live token belongs to (None when unknown or revoked)."""
    with db.connection() as conn:
        row = conn.execute("UPDATE kiosk_tokens SET last_used = now() WHERE token_sha256 = %s "
                           "AND revoked_at IS NULL RETURNING id, name", (_digest(token or ""),)).fetchone()
    return User(f"kiosk:{row[0]}", row[1], KIOSK) if row else None


# --- sessions -----------------------------------------------------------------------------------
# The cookie carries a random id; only its SHA-256 is stored. Every request reads the session with its
# user (or kiosk token), so ending a session, disabling a user or revoking a token holds at once.

def start_session(db: ConnectionPool, user: User) -> str:
    """A new session for a signed-in person (SESSION_HOURS) or a wall screen (until its token is revoked)."""
    token = secrets.token_urlsafe(32)
    kiosk_id = int(user.username.removeprefix("kiosk:")) if user.is_kiosk else None
    lifetime = timedelta(days=KIOSK_SESSION_DAYS) if user.is_kiosk else timedelta(hours=SESSION_HOURS)
    with db.connection() as conn, conn.transaction():
        conn.execute("DELETE FROM sessions WHERE expires_at < now() - interval '7 days'")
        conn.execute("INSERT INTO sessions (id_sha256, username, kiosk_id, expires_at) VALUES (%s, %s, %s, now() + %s)",
                     (_digest(token), None if kiosk_id else user.username, kiosk_id, lifetime))
    return token


def session_user(db: ConnectionPool, token: str) -> User | None:
    """Who a live session belongs to, as stored now (None: ended, expired, user disabled, token revoked)."""
    with db.connection() as conn:
        row = conn.execute(
            "SELECT u.username, u.display_name, u.role, u.domains, k.id, k.name FROM sessions s "
            "LEFT JOIN users u ON u.username = s.username AND u.active "
            "LEFT JOIN kiosk_tokens k ON k.id = s.kiosk_id AND k.revoked_at IS NULL "
            "WHERE s.id_sha256 = %s AND s.ended_at IS NULL AND s.expires_at > now()", (_digest(token),)).fetchone()
    if row is None:
        return None
    username, display, role, domains, kiosk_id, kiosk_name = row
    if username is not None:
        return _user({"username": username, "display_name": display, "role": role, "domains": domains})
    return User(f"kiosk:{kiosk_id}", kiosk_name, KIOSK) if kiosk_id is not None else None


def end_session(db: ConnectionPool, token: str) -> None:
    with db.connection() as conn:
        conn.execute("UPDATE sessions SET ended_at = now() WHERE id_sha256 = %s AND ended_at IS NULL",
                     (_digest(token),))
