"""What people do in the UI: acknowledge, assign, comment, silence, note in the shift log, and enter a figure
by hand (`enter_figure`, the one way a page writes a reading).

Each action is one transaction that also writes an `alert_events` row, so an alert's history holds
every transition and every human action in order. Functions take the pool and plain values; the
UI calls them, nothing here knows about Dash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from ioc import manual
from ioc.alerts.events import AlertEvent
from ioc.audit import audit
from ioc.auth import User
from ioc.config import Config
from ioc.i18n import t
from ioc.ingest import Validator
from ioc.models import Batch, Reading


class ActionError(ValueError):
    """A refused action; `message(lang)` says why in the user's language (str() is English, for logs)."""

    def __init__(self, key: str, **params: object):
        self.key, self.params = key, params
        super().__init__(t(key, "en", **params))

    def message(self, lang: str) -> str:
        return t(self.key, lang, **self.params)


def _who(name: str | User) -> str:
    """The actor's name: a signed-in User (the UI) or a name (CLI, tests, integrations)."""
    if isinstance(name, User):
        return name.display_name[:200] or name.username
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise ActionError("action.who_required")
    return name[:200]


def _may_handle(conn, who: str | User, alert_id: int) -> None:
    """A signed-in user acts on an alert only where their role allows (an officer: their own domains)."""
    if not isinstance(who, User):
        return
    row = conn.execute("SELECT domain FROM alerts WHERE id = %s", (alert_id,)).fetchone()
    if row is None:
        raise ActionError("action.no_alert", alert=alert_id)
    if not who.can_acknowledge(row[0]):
        raise ActionError("action.forbidden")


def _event(conn, alert_id: int, kind: str, detail: dict) -> None:
    conn.execute("INSERT INTO alert_events (alert_id, at, kind, detail) VALUES (%s, now(), %s, %s)",
                 (alert_id, kind, Jsonb(detail)))


def acknowledge(pool: ConnectionPool, alert_id: int, who: str | User, comment: str = "") -> None:
    actor = who
    who = _who(who)
    with pool.connection() as conn, conn.transaction():
        _may_handle(conn, actor, alert_id)
        row = conn.execute("UPDATE alerts SET acknowledged_by = %s, acknowledged_at = now(), ack_comment = %s, "
                           "updated_at = now() WHERE id = %s AND state IN ('pending', 'firing') "
                           "AND acknowledged_at IS NULL RETURNING id",
                           (who, comment.strip()[:2000], alert_id)).fetchone()
        if row is None:
            raise ActionError("action.not_active", alert=alert_id)
        _event(conn, alert_id, "acknowledged", {"by": who, "comment": comment.strip()[:2000]})
        audit(conn, who, "alert.acknowledge", f"alert:{alert_id}", None, {"comment": comment.strip()[:2000]})


def assign(pool: ConnectionPool, alert_id: int, who: str | User, assignee: str) -> None:
    actor = who
    who, assignee = _who(who), _who(assignee)
    with pool.connection() as conn, conn.transaction():
        _may_handle(conn, actor, alert_id)
        before = conn.execute("SELECT assigned_to FROM alerts WHERE id = %s FOR UPDATE", (alert_id,)).fetchone()
        if before is None:
            raise ActionError("action.no_alert", alert=alert_id)
        conn.execute("UPDATE alerts SET assigned_to = %s, updated_at = now() WHERE id = %s", (assignee, alert_id))
        _event(conn, alert_id, "assigned", {"by": who, "to": assignee})
        audit(conn, who, "alert.assign", f"alert:{alert_id}", {"assigned_to": before[0]}, {"assigned_to": assignee})


def comment(pool: ConnectionPool, alert_id: int, who: str | User, body: str) -> None:
    actor = who
    who, body = _who(who), (body or "").strip()
    if not body:
        raise ActionError("action.empty_comment")
    with pool.connection() as conn, conn.transaction():
        _may_handle(conn, actor, alert_id)
        if conn.execute("SELECT 1 FROM alerts WHERE id = %s", (alert_id,)).fetchone() is None:
            raise ActionError("action.no_alert", alert=alert_id)
        conn.execute("INSERT INTO alert_comments (alert_id, author, body) VALUES (%s, %s, %s)",
                     (alert_id, who, body[:4000]))
        _event(conn, alert_id, "comment", {"by": who})
        audit(conn, who, "alert.comment", f"alert:{alert_id}", None, {"body": body[:4000]})


@dataclass(frozen=True)
class Silence:
    id: int
    rule: str | None
    domain: str | None
    area: str | None
    subject: str | None
    starts_at: datetime
    ends_at: datetime
    weekdays: list[int] | None = None
    daily_start: time | None = None
    daily_minutes: int | None = None

    def matches(self, event: AlertEvent) -> bool:
        return all(want is None or want == got for want, got in (
            (self.rule, event.rule), (self.domain, event.domain), (self.area, event.area),
            (self.subject, event.subject)))

    def active(self, at: datetime, tz: ZoneInfo) -> bool:
        if not self.starts_at <= at < self.ends_at:
            return False
        if self.weekdays is None:
            return True
        local = at.astimezone(tz)
        # A window that started yesterday evening may still be open after midnight.
        for day_offset in (0, 1):
            day = local.date() - timedelta(days=day_offset)
            if day.weekday() in self.weekdays:
                opens = datetime.combine(day, self.daily_start, tz)
                if opens <= local < opens + timedelta(minutes=self.daily_minutes):
                    return True
        return False


def create_silence(pool: ConnectionPool, who: str | User, reason: str, starts_at: datetime, ends_at: datetime,
                   rule: str | None = None, domain: str | None = None, area: str | None = None,
                   subject: str | None = None, weekdays: list[int] | None = None, daily_start: time | None = None,
                   daily_minutes: int | None = None) -> int:
    """A silence (or, with weekdays/daily_start/daily_minutes, a recurring maintenance window).
    An officer silences only within their own domains: the silence must name one of them."""
    if isinstance(who, User) and not (who.role in ("operator", "admin") or (domain and who.can_acknowledge(domain))):
        raise ActionError("action.forbidden")
    who, reason = _who(who), (reason or "").strip()
    if not reason:
        raise ActionError("action.silence_reason")
    if not (rule or domain or area or subject):
        raise ActionError("action.silence_matcher")
    if ends_at <= starts_at:
        raise ActionError("action.silence_order")
    recurring = (weekdays, daily_start, daily_minutes)
    if any(v is not None for v in recurring) and not all(v is not None for v in recurring):
        raise ActionError("action.window_incomplete")
    if weekdays is not None and (not weekdays or any(not 0 <= d <= 6 for d in weekdays)):
        raise ActionError("action.weekdays")
    if daily_minutes is not None and not 0 < daily_minutes <= 1440:
        raise ActionError("action.window_length")
    with pool.connection() as conn, conn.transaction():
        silence_id = conn.execute(
            "INSERT INTO silences (rule, domain, area, subject, starts_at, ends_at, weekdays, daily_start, "
            "daily_minutes, reason, created_by) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
            (rule, domain, area, subject, starts_at, ends_at, weekdays, daily_start, daily_minutes, reason[:2000],
             who)).fetchone()[0]
        audit(conn, who, "silence.create", f"silence:{silence_id}", None, {
            "rule": rule, "domain": domain, "area": area, "subject": subject, "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(), "weekdays": weekdays, "reason": reason[:2000],
            "daily_start": daily_start.isoformat() if daily_start else None, "daily_minutes": daily_minutes})
        return silence_id


def silences_in_force(pool: ConnectionPool, at: datetime) -> list[Silence]:
    with pool.connection() as conn:
        rows = conn.execute("SELECT id, rule, domain, area, subject, starts_at, ends_at, weekdays, daily_start, "
                            "daily_minutes FROM silences WHERE expired_at IS NULL AND ends_at > %s", (at,))
        return [Silence(*row) for row in rows]


def silence_check(pool: ConnectionPool, tz: ZoneInfo) -> Callable[[AlertEvent], bool]:
    """The notification pipeline's first stage: is the event covered by a silence in force at its time?
    (Read from the table for each event: a silence someone just created holds the very next one.)"""
    def silenced(event: AlertEvent) -> bool:
        return any(s.matches(event) and s.active(event.at, tz) for s in silences_in_force(pool, event.at))
    return silenced


def note(pool: ConnectionPool, who: str | User, body: str, alert_id: int | None = None) -> None:
    """A shift-log entry, optionally tied to an alert."""
    if isinstance(who, User) and who.role not in ("operator", "officer", "admin"):
        raise ActionError("action.forbidden")
    user, who, body = who, _who(who), (body or "").strip()
    if not body:
        raise ActionError("action.empty_note")
    with pool.connection() as conn, conn.transaction():
        if alert_id is not None:
            row = conn.execute("SELECT domain FROM alerts WHERE id = %s", (alert_id,)).fetchone()
            # Another domain's alert is, to an officer, one that does not exist.
            if row is None or (isinstance(user, User) and not user.can_acknowledge(row[0])):
                raise ActionError("action.no_alert", alert=alert_id)
        note_id = conn.execute("INSERT INTO shift_log (author, alert_id, body) VALUES (%s, %s, %s) RETURNING id",
                               (who, alert_id, body[:4000])).fetchone()[0]
        audit(conn, who, "shift.note", f"note:{note_id}", None, {"alert": alert_id, "body": body[:4000]})


def enter_figure(submit: Callable[[Batch], None], config: Config, who: User, entity: str, metric: str,
                 ts: datetime, value: float, note: str = "") -> Reading:
    """A figure typed in by `who`, for an entity of a domain they may enter, validated like any reading and
    stored through the writer (`submit`); returns once committed. Refusals: ActionError (not allowed) or
    manual.ManualEntryError (the figure itself, with the reason)."""
    if entity not in config.entities or not who.can_enter(config.entity_domain(entity)):
        raise ActionError("action.forbidden")
    return manual.submit(Validator(config), submit, entity, metric, ts, value, who.display_name, note)
