"""Read-side queries: SQL in, DataFrames out. Panels and briefs call these and never write SQL.

"Now" questions read the `latest` table (one row per series); time ranges read the rollups (per-minute
and per-hour, see ioc/rollups.py) or raw readings by bucket size, combining entities with the metric's
aggregation.
"""

from __future__ import annotations

import math
import weakref
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from psycopg import sql
from psycopg_pool import ConnectionPool

from ioc import status
from ioc.config import Config, Metric
from ioc.db import frame

# Feeds whose readings count as stale whatever their age.
LATE_STATES = ("late", "failing")

# How entities combine into one figure in SQL and in pandas (from Metric.aggregation).
_COMBINE = {"avg": "avg", "sum": "sum", "max": "max", "min": "min", "last": "avg"}
_COMBINE_NUMPY = {"avg": "mean", "sum": "sum", "max": "max", "min": "min", "last": "mean"}


def _combine(values: np.ndarray, aggregation: str) -> float:
    if not len(values):
        return float("nan")
    return float(getattr(np, _COMBINE_NUMPY[aggregation])(values))


_STALE_AFTER: weakref.WeakKeyDictionary[Config, dict[tuple[str, str | None], float]] = weakref.WeakKeyDictionary()


def _stale_after_s(config: Config) -> dict[tuple[str, str | None], float]:
    """Seconds after which a reading of (metric, feed) is stale (see ioc.status.stale_after); computed once
    per configuration (every wall refresh asks)."""
    if config in _STALE_AFTER:
        return _STALE_AFTER[config]
    feeds = {f.name: f for f in config.feeds}
    out: dict[tuple[str, str | None], float] = {}
    for key, metric in config.metrics.items():
        out[(key, None)] = status.stale_after(metric).total_seconds()
        for name, feed in feeds.items():
            out[(key, name)] = status.stale_after(metric, feed).total_seconds()
    _STALE_AFTER[config] = out
    return out


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


OVERVIEW_COLUMNS = ["domain", "metric", "value", "last_ts", "age_s", "stale", "status", "entities",
                    "stale_entities", "worst", "worst_kind", "worst_value", "worst_status"]


def _fresh_mask(config: Config, latest: pd.DataFrame, ages: np.ndarray, now: datetime) -> np.ndarray:
    """Readings younger than their metric's cadence allows (lengthened by their feed's stale_after) and
    whose feed is not late or failing. A school-hours source ages only while schools are open."""
    limits = _stale_after_s(config)
    school = latest["metric"].isin([m.key for m in config.catalog.metrics if m.reports == "school_hours"])
    if school.any():
        ages = ages.copy()
        when = pd.to_datetime(latest["ts"], utc=True)
        for i in np.flatnonzero(school.to_numpy()):
            ages[i] = status.reporting_age(config.metrics[latest["metric"].iat[i]], when.iat[i], now)
    allowed = np.array([limits.get((m, f if isinstance(f, str) else None), limits[(m, None)])
                        for m, f in zip(latest["metric"], latest["feed"], strict=True)], dtype=np.float64)
    late = latest["feed_state"].isin(LATE_STATES).to_numpy()
    return (ages <= allowed) & ~late if len(latest) else np.zeros(0, dtype=bool)


def overview(db: ConnectionPool, config: Config, now: datetime, metrics: list[Metric] | None = None,
             entities: list[str] | None = None, area: str | None = None) -> pd.DataFrame:
    """One row per headline metric (or per metric of `metrics`): the province figure now (or an area's:
    `area`, or the figure of `entities`), its age, staleness and status, judged by ioc.status.figure —
    and when the status comes from one part (a site, a district), which part, its value and status."""
    headline = metrics if metrics is not None else [m for m in config.catalog.metrics if m.headline]
    latest = latest_values(db, [m.key for m in headline])
    if area is not None and entities is None:
        entities = config.area_entities(area)
    if entities is not None:
        latest = latest[latest["entity"].isin(entities)]
    latest = latest[latest["entity"].isin(config.entities.keys())].reset_index(drop=True)
    # Columns computed once and split by metric with numpy: per-metric pandas filtering cost ~4 ms a
    # metric, most of the wall screen's refresh budget.
    ts = pd.to_datetime(latest["ts"], utc=True)
    ages = (pd.Timestamp(now) - ts).dt.total_seconds().to_numpy()
    fresh_all = _fresh_mask(config, latest, ages, now)
    values, entity_ids, metric_keys = latest["value"].to_numpy(np.float64), latest["entity"].to_numpy(), \
        latest["metric"].to_numpy()
    rows = []
    for metric in headline:
        mine = metric_keys == metric.key
        fresh = mine & fresh_all
        # Combining silent entities' old values with fresh ones would mislead: use the fresh ones,
        # and fall back to the old values (marked stale) only when nothing is fresh.
        used = fresh if fresh.any() else mine
        fig = status.figure(config, metric, dict(zip(entity_ids[used], values[used], strict=True)), area)
        n_mine, n_fresh = int(mine.sum()), int(fresh.sum())
        last_ts = ts[mine].max() if n_mine else pd.NaT
        age = (pd.Timestamp(now) - last_ts).total_seconds() if n_mine else float("nan")
        rows.append({
            "domain": metric.domain, "metric": metric.key, "value": fig.value, "last_ts": last_ts,
            "age_s": age, "stale": bool(n_mine == 0 or n_fresh == 0), "status": fig.status,
            "entities": n_mine, "stale_entities": n_mine - n_fresh, "worst": fig.worst,
            "worst_kind": fig.worst_kind, "worst_value": fig.worst_value, "worst_status": fig.worst_status,
        })
    return pd.DataFrame(rows, columns=OVERVIEW_COLUMNS)


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
    latest["ts"] = pd.to_datetime(latest["ts"], utc=True)
    latest["age_s"] = (pd.Timestamp(now) - latest["ts"]).dt.total_seconds()
    latest["stale"] = ~_fresh_mask(config, latest, latest["age_s"].to_numpy(), now)
    latest["area"] = latest["entity"].map(lambda e: config.entities[e].area)
    latest["domain"] = latest["metric"].map(lambda k: config.metrics[k].domain)
    latest["status"] = [status.status_for(config.metrics[k], v, config.entities[e], "site")
                        for e, k, v in zip(latest["entity"], latest["metric"], latest["value"], strict=True)]
    return latest[columns]


def area_status(config: Config, sites: pd.DataFrame, parent: str | None = None) -> pd.DataFrame:
    """Per child area of `parent` (the region's root by default): the worst status of its figures (each
    metric's area figure judged by ioc.status.figure, from fresh readings), counts of critical / warning
    / stale readings and of sites, position and population. `sites` is a site_status() frame (filtered by
    domain or metric as the caller wants)."""
    parent = parent or config.region.region.code
    children = config.child_areas(parent)
    child_of = {e: area.code for area in children for e in config.area_entities(area.code)}
    # One pass in plain Python: per-area pandas filtering and grouping cost ~1 s a wall refresh.
    fresh: dict[str, dict[str, dict[str, float]]] = {area.code: {} for area in children}
    counts = {area.code: {"critical": 0, "warning": 0, "stale": 0} for area in children}
    for entity, metric, value, stale, judged in zip(sites["entity"].tolist(), sites["metric"].tolist(),
                                                    sites["value"].tolist(), sites["stale"].astype(bool).tolist(),
                                                    sites["status"].tolist(), strict=True):
        child = child_of.get(entity)
        if child is None:
            continue
        if stale:
            counts[child]["stale"] += 1
            continue
        fresh[child].setdefault(metric, {})[entity] = float(value)
        if judged in ("critical", "warning"):
            counts[child][judged] += 1
    rows = []
    for area in children:
        statuses = [status.figure(config, config.metrics[key], readings, area.code).status
                    for key, readings in fresh[area.code].items()]
        rows.append({
            "area": area.code, "lat": area.centroid[0], "lon": area.centroid[1], "population": area.population,
            "status": status.worst(statuses), **counts[area.code],
            "sites": len(config.area_entities(area.code)),
        })
    return pd.DataFrame(rows, columns=["area", "lat", "lon", "population", "status", "critical", "warning",
                                       "stale", "sites"])


# Chart buckets: round sizes, aligned on one origin so that rollup buckets (1 min, 1 h) nest in them.
NICE_BUCKETS = [timedelta(seconds=s) for s in (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)]
_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
_MINUTE, _HOUR = timedelta(minutes=1), timedelta(hours=1)


def resolution_for(start: datetime, end: datetime, max_points: int = 72, cadence: timedelta | None = None) -> timedelta:
    """The chart bucket for [start, end) with at most about `max_points` points per series: the smallest
    round bucket (10 s … 1 day, then whole days) at least (end - start) / max_points, never finer than
    the metric's cadence. Buckets of a minute or more read rollups (see `metric_series`)."""
    target = max((end - start) / max(1, max_points), cadence or timedelta(0))
    for bucket in NICE_BUCKETS:
        if bucket >= target:
            return bucket
    return timedelta(days=math.ceil(target / timedelta(days=1)))


def rollup_source(bucket: timedelta) -> tuple[str, timedelta] | None:
    """The rollup a chart bucket can be built from (the coarsest that nests in it), or None for raw."""
    if bucket >= _HOUR and bucket % _HOUR == timedelta(0):
        return "rollup_1h", _HOUR
    if bucket >= _MINUTE and bucket % _MINUTE == timedelta(0):
        return "rollup_1m", _MINUTE
    return None


def _floor(ts: datetime, step: timedelta) -> datetime:
    return _ORIGIN + ((ts - _ORIGIN) // step) * step


def _parts_sql(bucket: timedelta, start: datetime, end: datetime) -> tuple[sql.Composable, dict]:
    """A CTE list ending in `parts(metric, entity, b, total, n, min, max)`: per series and chart bucket, partial sums
    over disjoint time pieces. Whole rollup buckets inside [start, end) come from the rollup, except hours
    whose readings changed since they were rolled up (`rollup_dirty`); the uneven edges and those hours
    come from raw readings. So the answer equals the raw one, current to the last commit."""
    source = rollup_source(bucket)
    params = {"bucket": bucket, "origin": _ORIGIN, "start": start, "end": end}
    if source is None:
        inner_lo = inner_hi = end
    else:
        step = source[1]
        inner_lo, inner_hi = _floor(start + step - timedelta(microseconds=1), step), _floor(end, step)
        if inner_lo >= inner_hi:
            inner_lo = inner_hi = end
    params |= {"inner_lo": inner_lo, "inner_hi": inner_hi}
    rollup = sql.SQL("")
    if source is not None and inner_lo < inner_hi:
        rollup = sql.SQL("""
            SELECT sel.metric, sel.entity, date_bin(%(bucket)s, m.bucket, %(origin)s) AS b, m.avg * m.count AS total,
                   m.count AS n, m.min, m.max
            FROM sel CROSS JOIN LATERAL (
                -- One index range scan per series (OFFSET 0: not flattened into a scan of the whole rollup,
                -- which the planner prefers once the range spans most of the table).
                SELECT * FROM {table} WHERE series_id = sel.id AND bucket >= %(inner_lo)s AND bucket < %(inner_hi)s
                OFFSET 0) m
            WHERE NOT EXISTS (SELECT 1 FROM dirty d WHERE m.bucket >= d.hour AND m.bucket < d.hour + interval '1 hour')
            UNION ALL""").format(table=sql.Identifier(source[0]))
    query = sql.SQL("""
        sel AS (SELECT id, entity, metric FROM series WHERE metric = ANY(%(metrics)s)
                AND (%(entities)s::text[] IS NULL OR entity = ANY(%(entities)s))),
        dirty AS (SELECT hour FROM rollup_dirty
                  WHERE hour >= %(inner_lo)s - interval '1 hour' AND hour < %(inner_hi)s),
        raw_ranges AS (
            SELECT %(start)s::timestamptz AS lo, %(inner_lo)s::timestamptz AS hi
            UNION ALL SELECT %(inner_hi)s, %(end)s
            UNION ALL SELECT greatest(hour, %(inner_lo)s), least(hour + interval '1 hour', %(inner_hi)s) FROM dirty),
        parts (metric, entity, b, total, n, min, max) AS ({rollup}
            SELECT sel.metric, sel.entity, date_bin(%(bucket)s, r.ts, %(origin)s), r.value, 1, r.value, r.value
            FROM raw_ranges rr CROSS JOIN sel CROSS JOIN LATERAL (
                -- OFFSET 0 keeps this a per-(series, range) index range scan: flattened, the planner
                -- reads each series' whole partition and filters the time afterwards.
                SELECT ts, value FROM readings WHERE series_id = sel.id AND ts >= rr.lo AND ts < rr.hi OFFSET 0) r
            WHERE rr.lo < rr.hi)""").format(rollup=rollup)
    return query, params


def _no_jit(conn) -> None:
    """These queries read a few thousand rows, but the planner's guess for the raw ranges can pass
    jit_above_cost: compiling then took ~90 ms of a 10 ms query. Off for this transaction only."""
    conn.execute("SET LOCAL jit = off")


def _typed_series(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    if df.empty:
        dtypes = {"entity": object, "metric": object, "bucket": "datetime64[ns, UTC]"}
        return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, np.float64)) for c in columns})
    df["bucket"] = pd.to_datetime(df["bucket"], utc=True)
    for column in ("value", "min", "max"):
        if column in df:
            df[column] = df[column].astype(np.float64)
    return df


def area_values(config: Config, sites: pd.DataFrame, metric: Metric, parent: str | None = None) -> pd.DataFrame:
    """Per child area of `parent`: the area's figure of `metric` from its sites' fresh readings and its
    status (ioc.status.figure: combined by the metric's `across`, judged at the levels' scope or by the
    worst site, named in `worst`), the number of sites reporting and of stale ones. `sites` is a site_status() frame."""
    parent = parent or config.region.region.code
    children = config.child_areas(parent)
    child_of = {e: area.code for area in children for e in config.area_entities(area.code)}
    mine = sites[sites["metric"] == metric.key]
    mine = mine.assign(child=mine["entity"].map(child_of), value=mine["value"].astype(float),
                       stale=mine["stale"].astype(bool))
    groups = dict(tuple(mine.groupby("child"))) if not mine.empty else {}
    rows = []
    for area in children:
        members = groups.get(area.code, mine.iloc[0:0])
        fresh = members[~members["stale"]]
        fig = status.figure(config, metric, dict(zip(fresh["entity"], fresh["value"], strict=True)), area.code)
        rows.append({"area": area.code, "value": fig.value, "status": fig.status, "sites": int(len(members)),
                     "stale": int(len(members) - len(fresh)), "worst": fig.worst if fig.worst_kind == "site" else None})
    return pd.DataFrame(rows, columns=["area", "value", "status", "sites", "stale", "worst"])


def metric_series(db: ConnectionPool, metric: str, start: datetime, end: datetime, bucket: timedelta,
                  aggregation: str, entities: list[str] | None = None) -> pd.DataFrame:
    """The series of one metric: per bucket, each entity's mean, combined across entities (all of them,
    the province, or only `entities`: an area's or one site). Buckets of a minute or more are read from
    the rollups (hour rollups for whole hours), buckets under a minute from raw readings."""
    parts, params = _parts_sql(bucket, start, end)
    query = sql.SQL("""
        WITH {parts},
        per_entity AS (SELECT b, sum(total) / sum(n) AS value FROM parts GROUP BY entity, b)
        SELECT b AS bucket, {combine}(value) AS value FROM per_entity GROUP BY b ORDER BY b
    """).format(parts=parts, combine=sql.SQL(_COMBINE[aggregation]))
    with db.connection() as conn:
        _no_jit(conn)
        df = frame(conn, query, params | {"metrics": [metric], "entities": entities})
    return _typed_series(df, ["bucket", "value"])


def metrics_series(db: ConnectionPool, aggregations: dict[str, str], start: datetime, end: datetime,
                   bucket: timedelta, entities: list[str] | None = None) -> pd.DataFrame:
    """Several metrics' series in one round trip (a wall of sparklines): `aggregations` maps each metric
    to its aggregation. Columns metric, bucket, value; each metric's rows as `metric_series` gives them."""
    parts, params = _parts_sql(bucket, start, end)
    query = sql.SQL("""
        WITH {parts},
        per_entity AS (SELECT metric, b, sum(total) / sum(n) AS value FROM parts GROUP BY metric, entity, b)
        SELECT metric, b AS bucket, avg(value) AS avg, sum(value) AS sum, max(value) AS max, min(value) AS min
        FROM per_entity GROUP BY metric, b ORDER BY metric, b""").format(parts=parts)
    with db.connection() as conn:
        _no_jit(conn)
        df = frame(conn, query, params | {"metrics": list(aggregations), "entities": entities})
    if df.empty:
        return _typed_series(df, ["metric", "bucket", "value"])
    combine = df["metric"].map(lambda m: _COMBINE[aggregations[m]])
    df["value"] = [row[c] for row, c in zip(df.to_dict("records"), combine, strict=True)]
    return _typed_series(df[["metric", "bucket", "value"]].copy(), ["metric", "bucket", "value"])


def entity_series(db: ConnectionPool, metric: str, entities: list[str] | None, start: datetime, end: datetime,
                  bucket: timedelta) -> pd.DataFrame:
    """Each entity's own series of one metric (None: every entity that has it): per bucket its mean, min
    and max. Columns entity, bucket (UTC), value, min, max; read like `metric_series` (rollups or raw)."""
    parts, params = _parts_sql(bucket, start, end)
    query = sql.SQL("""
        WITH {parts}
        SELECT entity, b AS bucket, sum(total) / sum(n) AS value, min(min) AS min, max(max) AS max
        FROM parts GROUP BY entity, b ORDER BY entity, b""").format(parts=parts)
    with db.connection() as conn:
        _no_jit(conn)
        df = frame(conn, query, params | {"metrics": [metric], "entities": entities})
    return _typed_series(df, ["entity", "bucket", "value", "min", "max"])


def sparklines(db: ConnectionPool, specs: list[tuple[str, timedelta, str]], start: datetime, end: datetime,
               entities: list[str] | None = None) -> pd.DataFrame:
    """Several metrics' series, each at its own bucket (the wall's sparklines): `specs` are (metric, bucket,
    aggregation). One `metrics_series` round trip per distinct bucket. Columns metric, bucket, value."""
    by_bucket: dict[timedelta, dict[str, str]] = {}
    for metric, bucket, aggregation in specs:
        if aggregation not in _COMBINE:
            raise ValueError(f"unknown aggregation {aggregation!r}")
        by_bucket.setdefault(bucket, {})[metric] = aggregation
    frames = [metrics_series(db, aggregations, start, end, bucket, entities)
              for bucket, aggregations in by_bucket.items()]
    if not frames:
        return _typed_series(pd.DataFrame(), ["metric", "bucket", "value"])
    return pd.concat(frames, ignore_index=True).sort_values(["metric", "bucket"], ignore_index=True)


def manual_entries(db: ConnectionPool, limit: int = 50) -> pd.DataFrame:
    """The latest manual entries and corrections, newest first, with the value each replaced."""
    with db.connection() as conn:
        return frame(conn, "SELECT id, entered_at, entered_by, entity, metric, ts, value, previous_value, note "
                           "FROM manual_entries ORDER BY id DESC LIMIT %s", (limit,))
