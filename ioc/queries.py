"""Read-side queries: SQL in, DataFrames out. Panels and briefs call these and never write SQL.

"Now" questions read the `latest` table (one row per series); time ranges read readings in
buckets, combining entities with the metric's aggregation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from psycopg import sql
from psycopg_pool import ConnectionPool

from ioc.config import Config, Metric, Thresholds
from ioc.db import frame

# A reading is stale once it is older than its metric's cadence plus half a cadence of delivery
# slack: a device reporting on time never flickers stale, one that misses a report is stale at once.
STALE_FACTOR = 1.5

# How entities combine into one province figure, in SQL and in pandas ("last" is per entity).
LATE_STATES = ("late", "failing")

_COMBINE = {"avg": "avg", "sum": "sum", "max": "max", "min": "min", "last": "avg"}
_COMBINE_PANDAS = {"avg": "mean", "sum": "sum", "max": "max", "min": "min", "last": "mean"}


def status_of(value: float, thresholds: Thresholds | None) -> str:
    """'ok', 'warning' or 'critical' by the metric's thresholds; 'nodata' for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nodata"
    if thresholds is None:
        return "ok"
    sign = 1 if thresholds.direction == "above" else -1
    if sign * (value - thresholds.critical) >= 0:
        return "critical"
    if sign * (value - thresholds.warning) >= 0:
        return "warning"
    return "ok"


_SEVERITY = {"nodata": 0, "ok": 1, "warning": 2, "critical": 3}
SEVERITY = _SEVERITY  # public: frames rank statuses with it (site_points, area_status)


def worst_status(statuses: Iterable[str]) -> str:
    """The most severe of the statuses (critical > warning > ok > nodata); 'nodata' when empty."""
    return max(statuses, key=_SEVERITY.__getitem__, default="nodata")


def _combine(values: pd.Series, aggregation: str) -> float:
    if values.empty:
        return float("nan")
    return float(getattr(values, _COMBINE_PANDAS[aggregation])())


def latest_values(db: ConnectionPool, metrics: list[str]) -> pd.DataFrame:
    """The latest reading of every active entity for the given metrics: entity, metric, ts, value,
    the feed that wrote it and that feed's state (None when unknown)."""
    with db.connection() as conn:
        return frame(conn, """
            SELECT s.entity, s.metric, l.ts, l.value, l.feed, h.state AS feed_state
            FROM series s JOIN latest l ON l.series_id = s.id JOIN entities e ON e.id = s.entity
            LEFT JOIN feed_health h ON h.feed = l.feed
            WHERE e.active AND s.metric = ANY(%s)""", (metrics,))


def feed_health(db: ConnectionPool) -> pd.DataFrame:
    """Every feed's health as last written by the runtime."""
    with db.connection() as conn:
        return frame(conn, "SELECT feed, state, since, last_success, last_error, last_error_at, readings_per_min, "
                           "dead_letters_per_min, updated FROM feed_health ORDER BY feed")


def overview(db: ConnectionPool, config: Config, now: datetime, metrics: list[Metric] | None = None,
             entities: list[str] | None = None) -> pd.DataFrame:
    """One row per headline metric (or per metric of `metrics`): the province figure now (or the figure of
    `entities`: an area's), its age, staleness and status."""
    headline = metrics if metrics is not None else [m for m in config.catalog.metrics if m.headline]
    latest = latest_values(db, [m.key for m in headline])
    if entities is not None:
        latest = latest[latest["entity"].isin(entities)]
    rows = []
    by_metric = dict(tuple(latest.groupby("metric"))) if not latest.empty else {}
    for metric in headline:
        mine = by_metric.get(metric.key, latest.iloc[0:0])
        stale_after = (metric.cadence * STALE_FACTOR).total_seconds()
        ages = (pd.Timestamp(now) - pd.to_datetime(mine["ts"], utc=True)).dt.total_seconds()
        # A value is fresh while it is younger than its cadence allows and its feed is not late or failing.
        fresh = mine[(ages <= stale_after) & ~mine["feed_state"].isin(LATE_STATES)]
        # Averaging silent entities' old values with fresh ones would mislead: use the fresh ones,
        # and fall back to the old values (marked stale) only when nothing is fresh.
        used = fresh if not fresh.empty else mine
        value = _combine(used["value"], metric.aggregation)
        if any(metric.key in config.entities[e].thresholds for e in used["entity"]):
            # Sites with their own levels (river gauges on different datums): the province is as bad
            # as its worst site, judged by that site's levels, not by comparing the aggregate.
            status = worst_status(status_of(v, metric.thresholds_for(config.entities[e]))
                                  for e, v in zip(used["entity"], used["value"], strict=True))
        else:
            status = status_of(value, metric.thresholds)
        last_ts = pd.to_datetime(mine["ts"], utc=True).max() if not mine.empty else pd.NaT
        age = (pd.Timestamp(now) - last_ts).total_seconds() if not mine.empty else float("nan")
        rows.append({
            "domain": metric.domain, "metric": metric.key, "value": value, "last_ts": last_ts,
            "age_s": age, "stale": bool(mine.empty or fresh.empty),
            "status": status,
            "entities": int(len(mine)), "stale_entities": int(len(mine) - len(fresh)),
        })
    return pd.DataFrame(rows, columns=["domain", "metric", "value", "last_ts", "age_s", "stale", "status",
                                       "entities", "stale_entities"])


def site_status(db: ConnectionPool, config: Config, now: datetime, metrics: list[str] | None = None,
                entities: list[str] | None = None) -> pd.DataFrame:
    """One row per (entity, metric) latest reading: area, domain, ts, value, age_s, stale and status, each
    site judged by its own levels (a river gauge's BĐ1–BĐ3)."""
    latest = latest_values(db, list(metrics) if metrics is not None else list(config.metrics))
    if entities is not None:
        latest = latest[latest["entity"].isin(entities)]
    latest = latest[latest["entity"].isin(config.entities.keys())].reset_index(drop=True)
    columns = ["entity", "area", "domain", "metric", "ts", "value", "age_s", "stale", "status", "feed"]
    if latest.empty:
        return pd.DataFrame(columns=columns)
    stale_after = latest["metric"].map({k: (m.cadence * STALE_FACTOR).total_seconds()
                                        for k, m in config.metrics.items()})
    latest["ts"] = pd.to_datetime(latest["ts"], utc=True)
    latest["age_s"] = (pd.Timestamp(now) - latest["ts"]).dt.total_seconds()
    latest["stale"] = (latest["age_s"] > stale_after) | latest["feed_state"].isin(LATE_STATES)
    latest["area"] = latest["entity"].map(lambda e: config.entities[e].area)
    latest["domain"] = latest["metric"].map(lambda k: config.metrics[k].domain)
    latest["status"] = [status_of(v, config.metrics[k].thresholds_for(config.entities[e]))
                        for e, k, v in zip(latest["entity"], latest["metric"], latest["value"], strict=True)]
    return latest[columns]


def area_status(config: Config, sites: pd.DataFrame, parent: str | None = None) -> pd.DataFrame:
    """Per child area of `parent` (the region's root by default): the worst status of its sites' fresh
    readings, counts of critical / warning / stale readings and of sites, position and population.
    `sites` is a site_status() frame (filtered by domain or metric as the caller wants)."""
    parent = parent or config.region.region.code
    children = config.child_areas(parent)
    child_of = {e: area.code for area in children for e in config.area_entities(area.code)}
    stale = sites["stale"].astype(bool)
    grouped = pd.DataFrame({
        "child": sites["entity"].map(child_of),
        "rank": sites["status"].map(SEVERITY).where(~stale, 0),  # stale readings never colour an area
        "critical": (sites["status"] == "critical") & ~stale,
        "warning": (sites["status"] == "warning") & ~stale,
        "stale": stale,
    }).groupby("child").agg({"rank": "max", "critical": "sum", "warning": "sum", "stale": "sum"})
    by_rank = {v: k for k, v in SEVERITY.items()}
    rows = []
    for area in children:
        found = area.code in grouped.index
        rows.append({
            "area": area.code, "lat": area.centroid[0], "lon": area.centroid[1], "population": area.population,
            "status": by_rank[int(grouped.at[area.code, "rank"])] if found else "nodata",
            "critical": int(grouped.at[area.code, "critical"]) if found else 0,
            "warning": int(grouped.at[area.code, "warning"]) if found else 0,
            "stale": int(grouped.at[area.code, "stale"]) if found else 0,
            "sites": len(config.area_entities(area.code)),
        })
    return pd.DataFrame(rows, columns=["area", "lat", "lon", "population", "status", "critical", "warning",
                                       "stale", "sites"])


def area_values(config: Config, sites: pd.DataFrame, metric: Metric, parent: str | None = None) -> pd.DataFrame:
    """Per child area of `parent`: the area's figure of `metric` from its sites' fresh readings (combined
    with the metric's aggregation), its status (per-site levels: the worst site), the number of sites
    reporting and of stale ones. `sites` is a site_status() frame. Pure: no database."""
    parent = parent or config.region.region.code
    children = config.child_areas(parent)
    child_of = {e: area.code for area in children for e in config.area_entities(area.code)}
    mine = sites[sites["metric"] == metric.key]
    mine = mine.assign(child=mine["entity"].map(child_of), value=mine["value"].astype(float),
                       stale=mine["stale"].astype(bool))
    groups = dict(tuple(mine.groupby("child"))) if not mine.empty else {}
    site_levels = {e for e in mine["entity"] if metric.key in config.entities[e].thresholds}
    rows = []
    for area in children:
        members = groups.get(area.code, mine.iloc[0:0])
        fresh = members[~members["stale"]]
        value = _combine(fresh["value"], metric.aggregation)
        if fresh.empty:
            status = "nodata"
        elif site_levels.intersection(fresh["entity"]):
            status = worst_status(fresh["status"])
        else:
            status = status_of(value, metric.thresholds)
        rows.append({"area": area.code, "value": value, "status": status, "sites": int(len(members)),
                     "stale": int(len(members) - len(fresh))})
    return pd.DataFrame(rows, columns=["area", "value", "status", "sites", "stale"])


def metric_series(db: ConnectionPool, metric: str, start: datetime, end: datetime, bucket: timedelta,
                  aggregation: str, entities: list[str] | None = None) -> pd.DataFrame:
    """The series of one metric: per bucket, each entity's mean, combined across entities (all of them,
    the province, or only `entities`: an area's or one site)."""
    query = sql.SQL("""
        WITH per_entity AS (
            SELECT date_bin(%(bucket)s, r.ts, TIMESTAMPTZ '2000-01-01') AS bucket, avg(r.value) AS value
            FROM readings r JOIN series s ON s.id = r.series_id
            WHERE s.metric = %(metric)s AND r.ts >= %(start)s AND r.ts < %(end)s
              AND (%(entities)s::text[] IS NULL OR s.entity = ANY(%(entities)s))
            GROUP BY 1, s.entity)
        SELECT bucket, {combine}(value) AS value FROM per_entity GROUP BY bucket ORDER BY bucket
    """).format(combine=sql.SQL(_COMBINE[aggregation]))
    with db.connection() as conn:
        df = frame(conn, query, {"bucket": bucket, "metric": metric, "start": start, "end": end,
                                 "entities": entities})
    if df.empty:
        return pd.DataFrame({"bucket": pd.Series(dtype="datetime64[ns, UTC]"),
                             "value": pd.Series(dtype=np.float64)})
    df["bucket"] = pd.to_datetime(df["bucket"], utc=True)
    df["value"] = df["value"].astype(np.float64)
    return df


def manual_entries(db: ConnectionPool, limit: int = 50) -> pd.DataFrame:
    """The latest manual entries and corrections, newest first, with the value each replaced."""
    with db.connection() as conn:
        return frame(conn, "SELECT id, entered_at, entered_by, entity, metric, ts, value, previous_value, note "
                           "FROM manual_entries ORDER BY id DESC LIMIT %s", (limit,))


def series_by_entity(db: ConnectionPool, metric: str, entities: list[str], start: datetime, end: datetime,
                     bucket: timedelta) -> pd.DataFrame:
    """One line per entity: each entity's mean of `metric` per bucket in [start, end) — columns entity,
    bucket (UTC), value. (To be folded into the rollup-backed entity_series.)"""
    with db.connection() as conn:
        df = frame(conn, """
            SELECT s.entity, date_bin(%(bucket)s, r.ts, TIMESTAMPTZ '2000-01-01') AS bucket, avg(r.value) AS value
            FROM readings r JOIN series s ON s.id = r.series_id
            WHERE s.metric = %(metric)s AND s.entity = ANY(%(entities)s) AND r.ts >= %(start)s AND r.ts < %(end)s
            GROUP BY 1, 2 ORDER BY 1, 2""", {"bucket": bucket, "metric": metric, "entities": list(entities),
                                             "start": start, "end": end})
    if df.empty:
        return pd.DataFrame({"entity": pd.Series(dtype=object), "bucket": pd.Series(dtype="datetime64[ns, UTC]"),
                             "value": pd.Series(dtype=np.float64)})
    df["bucket"] = pd.to_datetime(df["bucket"], utc=True)
    df["value"] = df["value"].astype(np.float64)
    return df
