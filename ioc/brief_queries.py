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


def daily_means(db: ConnectionPool, metrics: list[str], start: datetime, end: datetime, tz: str) -> pd.DataFrame:
    """Per (metric, entity, local day): the mean of the readings and their count (metric, entity, day, mean, n)."""
    with db.connection() as conn:
        df = frame(conn, """
            SELECT s.metric, s.entity, (r.ts AT TIME ZONE %(tz)s)::date AS day, avg(r.value) AS mean, count(*) AS n
            FROM readings r JOIN series s ON s.id = r.series_id JOIN entities e ON e.id = s.entity
            WHERE e.active AND s.metric = ANY(%(metrics)s) AND r.ts >= %(start)s AND r.ts < %(end)s
            GROUP BY 1, 2, 3""", {"tz": tz, "metrics": metrics, "start": start, "end": end})
    if df.empty:
        return pd.DataFrame(columns=["metric", "entity", "day", "mean", "n"])
    df["mean"] = df["mean"].astype(float)
    return df


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


def series_counts(db: ConnectionPool, start: datetime, end: datetime) -> pd.DataFrame:
    """Per known series: the readings received in [start, end) and the feed that last wrote it
    (entity, metric, feed, n)."""
    with db.connection() as conn:
        df = frame(conn, """
            SELECT s.entity, s.metric, l.feed, count(r.ts) AS n
            FROM series s JOIN entities e ON e.id = s.entity
            LEFT JOIN latest l ON l.series_id = s.id
            LEFT JOIN readings r ON r.series_id = s.id AND r.ts >= %(start)s AND r.ts < %(end)s
            WHERE e.active GROUP BY s.id, s.entity, s.metric, l.feed""", {"start": start, "end": end})
    return df if not df.empty else pd.DataFrame(columns=["entity", "metric", "feed", "n"])


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
