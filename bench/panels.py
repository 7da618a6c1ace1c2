"""Panels benchmark: server time of the questions the pages ask, from rollups vs naively from raw.

On the dataset of bench/seed.py (its database and var/bench/config). Times, as p50/p95 over repeated
calls, the ioc.queries functions the panels call — and, in the same run, the same questions answered
naively from raw readings (date_bin over `readings`, latest values by DISTINCT ON):
- wall: one refresh of the wall screen as the server builds it (`panels._wall.render`: overview, the
  sparklines, site and area status, the map figure, alerts, feed health); naive: the same tiles,
  sparklines and site status from raw readings
- overview: `queries.overview` (the `latest` table)
- domain-24h / domain-7d / domain-30d: one domain page = each of the domain's headline metrics for the
  province and for one area's entities (`metric_series(..., entities=...)`); the domain rotates per call
- entity-7d: one entity page = each of its metrics over 7 days (`entity_series`); the entity rotates

    python bench/panels.py [--database ioc_bench] [--reps 20] [--naive-reps 5] [--points 150]

Last line: `panels: wall p95 <a> ms, overview p95 <b> ms, domain-30d p95 <c> ms, <r>x faster than raw`,
r = geometric mean over the cases of (naive p50 / rollup p50).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ioc import queries  # noqa: E402
from ioc.config import Config, load_config  # noqa: E402
from ioc.db import frame, open_pool  # noqa: E402
from panels._wall import render  # noqa: E402

CONFIG_DIR = ROOT / "var" / "bench" / "config"
WALL_WINDOW = timedelta(hours=6)
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)  # the buckets' origin (ioc.queries)


# --- the naive answers: raw readings only -----------------------------------------------------

def naive_series(db, metric: str, start: datetime, end: datetime, bucket: timedelta, aggregation: str,
                 entities: list[str] | None = None, per_entity: bool = False) -> pd.DataFrame:
    combine = queries._COMBINE[aggregation]
    tail = ("SELECT entity, bucket, value FROM per_entity ORDER BY entity, bucket" if per_entity else
            f"SELECT bucket, {combine}(value) AS value FROM per_entity GROUP BY bucket ORDER BY bucket")
    with db.connection() as conn:
        return frame(conn, f"""
            WITH per_entity AS (
                SELECT s.entity, date_bin(%(bucket)s, r.ts, TIMESTAMPTZ '2000-01-01') AS bucket, avg(r.value) AS value
                FROM readings r JOIN series s ON s.id = r.series_id
                WHERE s.metric = %(metric)s AND r.ts >= %(start)s AND r.ts < %(end)s
                  AND (%(entities)s::text[] IS NULL OR s.entity = ANY(%(entities)s))
                GROUP BY 1, 2)
            {tail}""", {"bucket": bucket, "metric": metric, "start": start, "end": end, "entities": entities})


def naive_overview(db, config: Config, now: datetime) -> pd.DataFrame:
    """The province figure per headline metric from the newest raw reading of each series (last day)."""
    metrics = [m.key for m in config.catalog.metrics if m.headline]
    with db.connection() as conn:
        latest = frame(conn, """
            SELECT DISTINCT ON (r.series_id) s.metric, r.ts, r.value
            FROM readings r JOIN series s ON s.id = r.series_id
            WHERE s.metric = ANY(%s) AND r.ts > %s AND r.ts <= %s ORDER BY r.series_id, r.ts DESC""",
                       (metrics, now - timedelta(days=1), now))
    return latest.groupby("metric")["value"].mean().reset_index()


# --- the cases ----------------------------------------------------------------------------------

class Bench:
    def __init__(self, db, config: Config, now: datetime, points: int):
        self.db, self.config, self.now, self.points = db, config, now, points
        self.headline = [m for m in config.catalog.metrics if m.headline]
        self.domains = sorted({m.domain for m in self.headline})
        self.area = next(iter(config.region.region.children)).code  # the first area (the city)
        self._domain_cycle = itertools.cycle(self.domains)
        kinds = ("hospital", "river_gauge", "school", "traffic_corridor", "air_station")
        self._entity_cycle = itertools.cycle([e for e in config.region.entities if e.kind in kinds][:10])

    def area_entities(self, metric: str) -> list[str]:
        return [e.id for e in self.config.region.entities
                if e.area == self.area and metric in self.config.entity_metrics(e.id)]

    def wall(self, naive: bool) -> None:
        """The wall's refresh; naive: the tiles, every headline sparkline and the sites' latest values
        from raw readings (one query per metric)."""
        if not naive:
            # As a screen refreshes: the map figure is sent again only when the areas' colours change.
            self._map_key = render(self.config, self.db, "overview", "vi", self.now,
                                   map_key=getattr(self, "_map_key", None)).map_key
            return
        naive_overview(self.db, self.config, self.now)
        by_bucket: dict[timedelta, dict[str, str]] = {}
        for m in self.headline:
            bucket = queries.resolution_for(self.now - WALL_WINDOW, self.now, 72, m.cadence)
            by_bucket.setdefault(bucket, {})[m.key] = m.aggregation
        for bucket, aggregations in by_bucket.items():
            start = ORIGIN + ((self.now - WALL_WINDOW - ORIGIN) // bucket) * bucket
            for metric, aggregation in aggregations.items():
                naive_series(self.db, metric, start, self.now, bucket, aggregation)

    def overview(self, naive: bool) -> None:
        (naive_overview if naive else queries.overview)(self.db, self.config, self.now)

    def domain(self, days: int, naive: bool) -> None:
        domain, start = next(self._domain_cycle), self.now - timedelta(days=days)
        bucket = queries.resolution_for(start, self.now, self.points)
        series = naive_series if naive else queries.metric_series
        for m in (m for m in self.headline if m.domain == domain):
            series(self.db, m.key, start, self.now, bucket, m.aggregation)
            series(self.db, m.key, start, self.now, bucket, m.aggregation, entities=self.area_entities(m.key))

    def entity(self, naive: bool) -> None:
        entity, start = next(self._entity_cycle), self.now - timedelta(days=7)
        bucket = queries.resolution_for(start, self.now, self.points)
        for metric in self.config.entity_metrics(entity.id):
            if naive:
                naive_series(self.db, metric, start, self.now, bucket, "avg", [entity.id], per_entity=True)
            else:
                queries.entity_series(self.db, metric, [entity.id], start, self.now, bucket)


def timed(call: Callable[[], None], reps: int) -> list[float]:
    call()  # warm: the first call pays for plans and cold pages, in both columns alike
    samples = []
    for _ in range(reps):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def machine(url: str) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))) / 2**20
    with psycopg.connect(url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        timescale = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    storage = f"TimescaleDB {timescale[0]}" if timescale else "plain"
    return (f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, PostgreSQL {version} ({storage}), "
            f"Python {platform.python_version()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=None, help="default: the one in var/bench/config")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--naive-reps", type=int, default=5)
    parser.add_argument("--points", type=int, default=150, help="points per series of a domain/entity chart")
    args = parser.parse_args()
    config = load_config(CONFIG_DIR, environ={})
    url = config.settings.database.url
    if args.database:
        info = psycopg.conninfo.conninfo_to_dict(url)
        info["dbname"] = args.database
        url = psycopg.conninfo.make_conninfo(**info)
    db = open_pool(url, 1, 2, name="bench-panels")
    with db.connection() as conn:
        start, end, cadence, rows = conn.execute(
            "SELECT start_ts, end_ts, cadence, raw_rows FROM bench_meta").fetchone()
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    print(f"machine: {machine(url)}")
    print(f"dataset: {rows:,} raw rows, {len(config.region.entities)} entities, one reading per "
          f"{cadence.total_seconds():g} s from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC; "
          f"database {size / 2**30:.2f} GiB")
    bench = Bench(db, config, end, args.points)
    cases: dict[str, Callable[[bool], None]] = {
        "wall": bench.wall,
        "overview": bench.overview,
        "domain-24h": lambda naive: bench.domain(1, naive),
        "domain-7d": lambda naive: bench.domain(7, naive),
        "domain-30d": lambda naive: bench.domain(30, naive),
        "entity-7d": bench.entity,
    }
    print(f"{'case':<12} {'rollups p50':>12} {'p95':>9} {'raw p50':>10} {'p95':>9} {'ratio':>7}   (ms; "
          f"{args.reps} / {args.naive_reps} calls)")
    results = {}
    for name, case in cases.items():
        ours = timed(lambda case=case: case(False), args.reps)
        naive = timed(lambda case=case: case(True), args.naive_reps)
        results[name] = (ours, naive)
        ratio = statistics.median(naive) / statistics.median(ours)
        print(f"{name:<12} {statistics.median(ours):>12.1f} {p(ours, .95):>9.1f} {statistics.median(naive):>10.1f} "
              f"{p(naive, .95):>9.1f} {ratio:>6.1f}x", flush=True)
    db.close()
    ratios = [statistics.median(n) / statistics.median(o) for o, n in results.values()]
    r = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
    wall, overview, domain = (p(results[name][0], .95) for name in ("wall", "overview", "domain-30d"))
    print(f"panels: wall p95 {wall:.0f} ms, overview p95 {overview:.0f} ms, domain-30d p95 {domain:.0f} ms, "
          f"{r:.0f}x faster than raw")


if __name__ == "__main__":
    main()
