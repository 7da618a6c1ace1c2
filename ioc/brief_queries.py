"""Read-side queries of the daily brief: SQL in, DataFrames (or plain data) out.

The brief's numbers are computed from these in `ioc.brief.compute`; alerts come from
`ioc.alert_queries.alert_history`. Times are UTC instants; a "day" is a local calendar day.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pandas as pd
from psycopg_pool import ConnectionPool

from ioc.db import frame


def daily_stats(db: ConnectionPool, metrics: list[str], windows: list[tuple[datetime, datetime]],
                tz: str) -> pd.DataFrame:
    """Per (metric, entity, local day) in the windows: the day's total, mean, max, min and last reading, the
    number of readings and when the max was reached (metric, entity, day, total, mean, max, min, last, n,
    max_at)."""
    columns = ["metric", "entity", "day", "total", "mean", "max", "min", "last", "n", "max_at"]
    ranges = " OR ".join(f"(r.ts >= %(s{i})s AND r.ts < %(e{i})s)" for i in range(len(windows)))
    params: dict[str, Any] = {"tz": tz, "metrics": metrics}
    for i, (start, end) in enumerate(windows):
        params[f"s{i}"], params[f"e{i}"] = start, end
    with db.connection() as conn:
        df = frame(conn, f"""
            SELECT s.metric, s.entity, (r.ts AT TIME ZONE %(tz)s)::date AS day, sum(r.value) AS total,
                   avg(r.value) AS mean, max(r.value) AS max, min(r.value) AS min,
                   (array_agg(r.value ORDER BY r.ts DESC))[1] AS last, count(*) AS n,
                   (array_agg(r.ts ORDER BY r.value DESC, r.ts))[1] AS max_at
            FROM readings r JOIN series s ON s.id = r.series_id JOIN entities e ON e.id = s.entity
            WHERE e.active AND s.metric = ANY(%(metrics)s) AND ({ranges or 'false'})
            GROUP BY 1, 2, 3""", params)
    if df.empty:
        return pd.DataFrame(columns=columns)
    for column in ("total", "mean", "max", "min", "last"):
        df[column] = df[column].astype(float)
    df["day"] = pd.to_datetime(df["day"]).dt.date
    df["max_at"] = pd.to_datetime(df["max_at"], utc=True)
    return df


def hourly_means(db: ConnectionPool, metrics: list[str], start: datetime, end: datetime, tz: str) -> pd.DataFrame:
    """Per (metric, entity, local day, local hour): the mean of the hour's readings (the VN_AQI daily index
    works on hourly means)."""
    with db.connection() as conn:
        df = frame(conn, """
            SELECT s.metric, s.entity, (r.ts AT TIME ZONE %(tz)s)::date AS day,
                   extract(hour FROM r.ts AT TIME ZONE %(tz)s)::int AS hour, avg(r.value) AS mean
            FROM readings r JOIN series s ON s.id = r.series_id JOIN entities e ON e.id = s.entity
            WHERE e.active AND s.metric = ANY(%(metrics)s) AND r.ts >= %(start)s AND r.ts < %(end)s
            GROUP BY 1, 2, 3, 4""", {"tz": tz, "metrics": metrics, "start": start, "end": end})
    if df.empty:
        return pd.DataFrame(columns=["metric", "entity", "day", "hour", "mean"])
    df["mean"] = df["mean"].astype(float)
    df["day"] = pd.to_datetime(df["day"]).dt.date
    return df


def entity_stamps(db: ConnectionPool, start: datetime, end: datetime) -> pd.DataFrame:
    """Every distinct time an active entity sent anything in [start, end) (entity, ts), in time order: gaps
    in it are the entity's silences."""
    with db.connection() as conn:
        df = frame(conn, """
            SELECT s.entity, r.ts FROM readings r JOIN series s ON s.id = r.series_id
            JOIN entities e ON e.id = s.entity
            WHERE e.active AND r.ts >= %(start)s AND r.ts < %(end)s GROUP BY 1, 2 ORDER BY 1, 2""",
                   {"start": start, "end": end})
    if df.empty:
        return pd.DataFrame(columns=["entity", "ts"])
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    return df


def first_reading(db: ConnectionPool) -> datetime | None:
    """When the oldest stored reading was taken (None: no data yet): no brief is built for a day before it."""
    with db.connection() as conn:
        # one primary-key probe per series, not a scan of every reading
        row = conn.execute("SELECT min((SELECT ts FROM readings r WHERE r.series_id = s.id ORDER BY ts LIMIT 1)) "
                           "FROM series s").fetchone()
    return row[0] if row else None


def totals_between(db: ConnectionPool, metrics: list[str], start: datetime, end: datetime) -> dict[str, float]:
    """Sum of every reading of each metric in [start, end), all sites (day-total metrics over a window)."""
    with db.connection() as conn:
        rows = conn.execute("""
            SELECT s.metric, sum(r.value) FROM readings r JOIN series s ON s.id = r.series_id
            JOIN entities e ON e.id = s.entity
            WHERE e.active AND s.metric = ANY(%s) AND r.ts >= %s AND r.ts < %s GROUP BY 1""",
                            (metrics, start, end)).fetchall()
    return {metric: float(total) for metric, total in rows}


def readings_between(db: ConnectionPool, metrics: list[str], start: datetime, end: datetime) -> pd.DataFrame:
    """Every reading of the metrics in [start, end), in time order per series (entity, metric, ts, value)."""
    with db.connection() as conn:
        df = frame(conn, """
            SELECT s.entity, s.metric, r.ts, r.value
            FROM readings r JOIN series s ON s.id = r.series_id JOIN entities e ON e.id = s.entity
            WHERE e.active AND s.metric = ANY(%(metrics)s) AND r.ts >= %(start)s AND r.ts < %(end)s
            ORDER BY s.entity, s.metric, r.ts""", {"metrics": metrics, "start": start, "end": end})
    if df.empty:
        return pd.DataFrame(columns=["entity", "metric", "ts", "value"])
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    return df


def rule_teams(db: ConnectionPool) -> dict[str, str]:
    """{metric: the `team` label of a rule on it}: who answers for its breaches (rules as stored, edits included)."""
    with db.connection() as conn:
        rows = conn.execute("SELECT definition->>'metric', definition->'labels'->>'team' FROM alert_rules "
                            "WHERE definition->'labels'->>'team' IS NOT NULL AND definition->>'metric' IS NOT NULL "
                            "ORDER BY name").fetchall()
    teams: dict[str, str] = {}
    for metric, team in rows:
        teams.setdefault(metric, team)
    return teams


def values_as_of(db: ConnectionPool, metrics: list[str], end: datetime) -> pd.DataFrame:
    """The last reading before `end` of every series of the metrics (entity, metric, ts, value): plan
    figures are entered now and then, so "yesterday's" figure is the latest one known by then."""
    with db.connection() as conn:
        df = frame(conn, """
            SELECT s.entity, s.metric, r.ts, r.value
            FROM series s JOIN entities e ON e.id = s.entity
            CROSS JOIN LATERAL (SELECT ts, value FROM readings WHERE series_id = s.id AND ts < %(end)s
                                ORDER BY ts DESC LIMIT 1) r
            WHERE e.active AND s.metric = ANY(%(metrics)s)""", {"metrics": metrics, "end": end})
    return df if not df.empty else pd.DataFrame(columns=["entity", "metric", "ts", "value"])


def brief(db: ConnectionPool, day: date, lang: str) -> dict[str, Any] | None:
    """The stored brief of a day: {"content", "generated_at", "emailed_at"}; None when not built."""
    with db.connection() as conn:
        row = conn.execute("SELECT content, generated_at, emailed_at FROM briefs WHERE day = %s AND lang = %s",
                           (day, lang)).fetchone()
    return None if row is None else {"content": row[0], "generated_at": row[1], "emailed_at": row[2]}


def brief_pdf(db: ConnectionPool, day: date, lang: str) -> bytes | None:
    with db.connection() as conn:
        row = conn.execute("SELECT pdf FROM briefs WHERE day = %s AND lang = %s", (day, lang)).fetchone()
    return None if row is None else bytes(row[0])


def brief_archive(db: ConnectionPool, limit: int = 400) -> pd.DataFrame:
    """Built briefs, newest day first (day, lang, generated_at, emailed_at, pdf_bytes)."""
    with db.connection() as conn:
        df = frame(conn, "SELECT day, lang, generated_at, emailed_at, octet_length(pdf) AS pdf_bytes FROM briefs "
                         "ORDER BY day DESC, lang DESC LIMIT %s", (limit,))
    return df if not df.empty else pd.DataFrame(columns=["day", "lang", "generated_at", "emailed_at", "pdf_bytes"])


def brief_days(db: ConnectionPool, since: date, lang: str) -> set[date]:
    """Days from `since` that already have a brief in `lang`."""
    with db.connection() as conn:
        rows = conn.execute("SELECT day FROM briefs WHERE day >= %s AND lang = %s", (since, lang)).fetchall()
    return {r[0] for r in rows}
