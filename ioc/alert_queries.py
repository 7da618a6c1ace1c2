"""Read-side alert queries: SQL in, DataFrames (or plain dicts) out, for /alerts and /shift.

Writes go through ioc.alerts.actions (people) and ioc.alerts.service (the engine); nothing here
changes a row. Times are UTC; filters that are None are not applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from psycopg import sql
from psycopg_pool import ConnectionPool

from ioc.db import frame
from ioc.models import Reading

ACTIVE_STATES = ("pending", "firing")
ALERT_COLUMNS = ["id", "rule", "subject", "domain", "area", "state", "severity", "value", "threshold",
                 "pending_since", "firing_since", "acknowledged_by", "acknowledged_at", "assigned_to", "flapping",
                 "metric", "condition"]  # metric: the rule's metric (from alert_rules, else a catalog rule's
# name), or None; condition: the rule's (above, nodata, …; None for a catalog rule, which judges levels)
HISTORY_COLUMNS = [*ALERT_COLUMNS, "resolved_at"]
_HISTORY_LIMIT = 5000


def _many(value: str | Iterable[str] | None) -> list[str] | None:
    """A filter value as a list (None: no filter). Empty strings mean "any"."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        values = [value]
    elif isinstance(value, list | tuple | set):
        values = [v for v in value if isinstance(v, str) and v]
    else:  # not a filter a form can produce
        return None
    return values or None


def _filters(domain=None, area=None, severity=None, state=None) -> tuple[list[sql.Composable], dict[str, Any]]:
    """WHERE clauses on alerts `a`. Each filter takes one value or several (area: pass the area and its
    descendants to include everything below it)."""
    clauses: list[sql.Composable] = []
    params: dict[str, Any] = {}
    for column, value in (("domain", domain), ("area", area), ("severity", severity), ("state", state)):
        values = _many(value)
        if values is not None:
            clauses.append(sql.SQL("a.{} = ANY(%({})s)").format(sql.Identifier(column), sql.SQL(column)))
            params[column] = values
    return clauses, params


def _where(clauses: list[sql.Composable]) -> sql.Composable:
    return sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("true")


_METRIC = sql.SQL("coalesce(r.definition->>'metric', CASE WHEN a.rule LIKE 'catalog:%%' "
                  "THEN substr(a.rule, 9) END) AS metric")
_FROM = sql.SQL("alerts a LEFT JOIN alert_rules r ON r.name = a.rule")


_CONDITION = sql.SQL("r.definition->>'condition' AS condition")


def _select(columns: list[str]) -> sql.Composable:
    special = {"metric": _METRIC, "condition": _CONDITION}
    return sql.SQL(", ").join(special.get(c) or sql.SQL("a.{}").format(sql.Identifier(c)) for c in columns)


_ORDER = sql.SQL("ORDER BY (a.severity = 'critical') DESC, (a.state = 'firing') DESC, "
                 "coalesce(a.firing_since, a.pending_since) DESC, a.id DESC")


def active_alerts(db: ConnectionPool, domain=None, area=None, severity=None, state=None) -> pd.DataFrame:
    """Pending and firing alerts, most severe and newest first (ALERT_COLUMNS)."""
    clauses, params = _filters(domain, area, severity, state)
    clauses.insert(0, sql.SQL("a.state IN ('pending', 'firing')"))
    query = sql.SQL("SELECT {} FROM {} WHERE {} {}").format(_select(ALERT_COLUMNS), _FROM, _where(clauses), _ORDER)
    with db.connection() as conn:
        df = frame(conn, query, params)
    return _typed(df, ALERT_COLUMNS)


def alert_history(db: ConnectionPool, start: datetime, end: datetime, domain=None, area=None, severity=None,
                  state=None, limit: int = _HISTORY_LIMIT) -> pd.DataFrame:
    """Every alert whose episode overlaps [start, end] (still active ones included), newest first,
    with resolved_at (HISTORY_COLUMNS)."""
    clauses, params = _filters(domain, area, severity, state)
    clauses[:0] = [sql.SQL("a.pending_since <= %(end)s"),
                   sql.SQL("(a.resolved_at IS NULL OR a.resolved_at >= %(start)s)")]
    params.update(start=start, end=end, limit=limit)
    query = sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY a.pending_since DESC, a.id DESC LIMIT %(limit)s"
                    ).format(_select(HISTORY_COLUMNS), _FROM, _where(clauses))
    with db.connection() as conn:
        df = frame(conn, query, params)
    return _typed(df, HISTORY_COLUMNS)


def alert_detail(db: ConnectionPool, alert_id: int) -> dict | None:
    """{"alert": the row as a dict (every column, plus the rule's metric and condition when the rule is
    known), "events": DataFrame(at, kind, detail), "comments": DataFrame(at, author, body)}; None when
    there is no such alert."""
    with db.connection() as conn:
        row = frame(conn, "SELECT a.*, r.definition->>'metric' AS metric, r.definition->>'condition' AS condition "
                          "FROM alerts a LEFT JOIN alert_rules r ON r.name = a.rule WHERE a.id = %s", (alert_id,))
        if row.empty:
            return None
        events = frame(conn, "SELECT id, at, kind, detail FROM alert_events WHERE alert_id = %s ORDER BY at, id",
                       (alert_id,))
        comments = frame(conn, "SELECT id, at, author, body FROM alert_comments WHERE alert_id = %s "
                               "ORDER BY at, id", (alert_id,))
    alert = row.iloc[0].to_dict()
    alert = {k: (None if _missing(v) else v) for k, v in alert.items()}
    if alert.get("metric") is None and str(alert["rule"]).startswith("catalog:"):
        alert["metric"] = alert["rule"].split(":", 1)[1]  # a catalog default rule: "catalog:<metric>"
    return {"alert": alert,
            "events": events if not events.empty else pd.DataFrame(columns=["id", "at", "kind", "detail"]),
            "comments": comments if not comments.empty else pd.DataFrame(columns=["id", "at", "author", "body"])}


SILENCE_COLUMNS = ["id", "rule", "domain", "area", "subject", "starts_at", "ends_at", "weekdays", "daily_start",
                   "daily_minutes", "reason", "created_by", "created_at", "in_force"]


def silences(db: ConnectionPool, now: datetime) -> pd.DataFrame:
    """Silences and maintenance windows not expired and not over: in force (its range holds `now`;
    a recurring window may be between openings) and upcoming, soonest first."""
    with db.connection() as conn:
        df = frame(conn, "SELECT id, rule, domain, area, subject, starts_at, ends_at, weekdays, daily_start, "
                         "daily_minutes, reason, created_by, created_at, starts_at <= %(now)s AS in_force "
                         "FROM silences WHERE expired_at IS NULL AND ends_at > %(now)s ORDER BY starts_at, id",
                   {"now": now})
    return df if not df.empty else pd.DataFrame(columns=SILENCE_COLUMNS)


SHIFT_LOG_COLUMNS = ["id", "at", "author", "alert_id", "body", "rule", "subject"]


def shift_log(db: ConnectionPool, since: datetime, until: datetime | None = None, limit: int = 500) -> pd.DataFrame:
    """Shift-log notes from `since` (to `until`), newest first, with the rule and subject of a tied alert."""
    with db.connection() as conn:
        df = frame(conn, "SELECT l.id, l.at, l.author, l.alert_id, l.body, a.rule, a.subject "
                         "FROM shift_log l LEFT JOIN alerts a ON a.id = l.alert_id "
                         "WHERE l.at >= %s AND (%s::timestamptz IS NULL OR l.at < %s) "
                         "ORDER BY l.at DESC, l.id DESC LIMIT %s", (since, until, until, limit))
    if df.empty:
        return pd.DataFrame(columns=SHIFT_LOG_COLUMNS)
    df["alert_id"] = df["alert_id"].astype("Int64")
    return df


def handover(db: ConnectionPool, since: datetime, until: datetime | None = None) -> dict:
    """What changed during a shift [since, until) — numbers and lists, no prose.

    started_firing: alerts whose firing began in the period; resolved: resolved in the period;
    unacknowledged: still firing at the end of the period and not acknowledged by then (whenever they
    started);
    acknowledged: acknowledged in the period (with by whom); silences: created in the period;
    notes: shift-log entries of the period. `counts` holds the length of each list, and
    `acknowledged_by` the number of acknowledgements per person.
    """
    until = until or datetime.now(UTC)
    period = {"since": since, "until": until}
    base = "SELECT id, rule, subject, domain, area, state, severity, value, threshold, firing_since, "
    with db.connection() as conn:
        started = frame(conn, base + "resolved_at FROM alerts WHERE firing_since >= %(since)s "
                        "AND firing_since < %(until)s ORDER BY firing_since, id", period)
        resolved = frame(conn, base + "resolved_at FROM alerts WHERE state = 'resolved' AND resolved_at >= %(since)s "
                         "AND resolved_at < %(until)s ORDER BY resolved_at, id", period)
        # Firing at the end of the period and nobody had acknowledged it by then.
        unacked = frame(conn, base + "assigned_to FROM alerts WHERE firing_since < %(until)s "
                        "AND (resolved_at IS NULL OR resolved_at >= %(until)s) "
                        "AND (acknowledged_at IS NULL OR acknowledged_at >= %(until)s) "
                        "ORDER BY (severity = 'critical') DESC, firing_since, id", period)
        acked = frame(conn, base + "acknowledged_by, acknowledged_at, ack_comment FROM alerts "
                      "WHERE acknowledged_at >= %(since)s AND acknowledged_at < %(until)s "
                      "ORDER BY acknowledged_at, id", period)
        silenced = frame(conn, "SELECT id, rule, domain, area, subject, starts_at, ends_at, reason, created_by, "
                               "created_at FROM silences WHERE created_at >= %(since)s AND created_at < %(until)s "
                               "ORDER BY created_at, id", period)
        notes = frame(conn, "SELECT id, at, author, alert_id, body FROM shift_log WHERE at >= %(since)s "
                            "AND at < %(until)s ORDER BY at, id", period)
    lists = {"started_firing": started, "resolved": resolved, "unacknowledged": unacked, "acknowledged": acked,
             "silences": silenced, "notes": notes}
    out: dict[str, Any] = {"since": since, "until": until}
    for key, df in lists.items():
        out[key] = records(df)
    out["counts"] = {key: len(out[key]) for key in lists}
    out["counts"]["started_critical"] = sum(r["severity"] == "critical" for r in out["started_firing"])
    by: dict[str, int] = {}
    for r in out["acknowledged"]:
        by[r["acknowledged_by"]] = by.get(r["acknowledged_by"], 0) + 1
    out["acknowledged_by"] = by
    return out


def entity_series(db: ConnectionPool, entity: str, metric: str, start: datetime, end: datetime,
                  bucket: timedelta) -> pd.DataFrame:
    """One entity's readings of one metric in [start, end), averaged per bucket: columns bucket (UTC), value."""
    with db.connection() as conn:
        df = frame(conn, """
            SELECT date_bin(%(bucket)s, r.ts, TIMESTAMPTZ '2000-01-01') AS bucket, avg(r.value) AS value
            FROM readings r JOIN series s ON s.id = r.series_id
            WHERE s.entity = %(entity)s AND s.metric = %(metric)s AND r.ts >= %(start)s AND r.ts < %(end)s
            GROUP BY 1 ORDER BY 1""", {"bucket": bucket, "entity": entity, "metric": metric, "start": start,
                                       "end": end})
    if df.empty:
        return pd.DataFrame({"bucket": pd.Series(dtype="datetime64[ns, UTC]"), "value": pd.Series(dtype=np.float64)})
    df["bucket"] = pd.to_datetime(df["bucket"], utc=True)
    df["value"] = df["value"].astype(np.float64)
    return df


# --- helpers --------------------------------------------------------------------------------

def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _typed(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    if df.empty:
        return pd.DataFrame(columns=columns)
    for column in ("value", "threshold"):
        df[column] = df[column].astype(np.float64)
    df["flapping"] = df["flapping"].astype(bool)
    return df


def records(df: pd.DataFrame) -> list[dict]:
    """Rows as dicts with None (not NaN/NaT/NA) for missing values: what pages iterate over."""
    return [{k: (None if _missing(v) else v) for k, v in row.items()} for row in df.to_dict("records")]


def firing_counts(db: ConnectionPool, domains: list[str] | None = None) -> dict:
    """For the navbar badge: firing alerts (of `domains`, or all), how many critical and unacknowledged,
    and the critical ids."""
    with db.connection() as conn:
        rows = conn.execute("SELECT id, severity, acknowledged_at IS NULL FROM alerts "
                            "WHERE state = 'firing' AND (%s::text[] IS NULL OR domain = ANY(%s))",
                            (domains, domains)).fetchall()
    return {"firing": len(rows), "critical": sum(s == "critical" for _, s, _ in rows),
            "unacknowledged": sum(u for _, _, u in rows),
            "critical_ids": sorted(i for i, s, _ in rows if s == "critical")}


def counts_by_state(db: ConnectionPool, timeout: float = 2) -> dict[str, int]:
    """For /metrics: alerts per state; resolved ones of the last day only, so the scrape stays cheap."""
    counts = dict.fromkeys(("pending", "firing", "resolved"), 0)
    with db.connection(timeout=timeout) as conn:
        for state, n in conn.execute("SELECT state, count(*) FROM alerts WHERE state <> 'resolved' "
                                     "OR resolved_at > now() - interval '1 day' GROUP BY state"):
            counts[state] = n
    return counts


def alert_rules(db: ConnectionPool) -> pd.DataFrame:
    """The rules in force as stored: name, definition (dict), source (config or the person), updated_at."""
    with db.connection() as conn:
        return frame(conn, "SELECT name, definition, source, updated_at FROM alert_rules ORDER BY name")


def rule_history(db: ConnectionPool, name: str) -> pd.DataFrame:
    """Every stored version of a rule, newest first (definition None: removed)."""
    with db.connection() as conn:
        return frame(conn, "SELECT changed_at, changed_by, definition FROM alert_rule_history WHERE name = %s "
                           "ORDER BY id DESC", (name,))


def latest_readings(db: ConnectionPool, within: timedelta = timedelta(minutes=10)) -> list[Reading]:
    """Every series' latest value of the last `within` as readings: what the alert engine of a separate
    process sweeps for values stored without passing its own subscriber (manual entries typed in a UI)."""
    with db.connection() as conn:
        rows = conn.execute("SELECT s.entity, s.metric, l.ts, l.value FROM latest l "
                            "JOIN series s ON s.id = l.series_id WHERE l.ts > now() - %s", (within,)).fetchall()
    return [Reading(entity, metric, ts, value) for entity, metric, ts, value in rows]
