"""Domain and entity pages with 30 days of simulated history: server time per page render and payload size.

A fresh database is filled by the product itself (the simulator's backfill through the broker, as
`python app.py` does at first start). Then every domain page (province and one district), each of its
focus views (a callback of its own) and one entity page per kind are rendered for each range, the way
Dash's callbacks do it: the layout (or view) function, then the JSON the browser receives. Filters and
clicks change the URL, so these renders are the server time of every interaction on these pages.

    python bench/domain.py [--backfill 30d] [--repeat 3] [--keep]   (--keep: leave the database for a rerun)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import plotly
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ioc.config import copy_config, load_config  # noqa: E402
from ioc.runtime import Runtime  # noqa: E402
from ioc.services import free_port  # noqa: E402

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DB = "ioc_bench_domain"
RANGES = ("1h", "24h", "7d", "30d")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def database(keep: bool) -> tuple[str, bool]:
    """The bench database's URL and whether it already holds the history (kept from a previous run)."""
    with psycopg.connect(SERVER, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone() is not None
        if exists and not keep:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(DB)))
            exists = False
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB)))
    return SERVER.rsplit("/", 1)[0] + "/" + DB, exists


def readings(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM readings").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backfill", default="30d")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    url, filled = database(args.keep)
    folder = copy_config(Path(tempfile.mkdtemp(prefix="ioc-bench-domain-")), {
        "database": {"url": url},
        "mqtt": {"url": "mqtt://127.0.0.1:1883", "topic_prefix": "iocbenchdomain", "client_id": "ioc-bench-domain"},
        "http": {"port": free_port()},
    }, feeds={"simulator": {"options": {"backfill": "0s" if filled else args.backfill, "interval": "5s"}}})
    config = load_config(folder, environ={})
    rt = Runtime(config).start()
    try:
        t0 = time.perf_counter()
        last, stable = -1, 0
        while stable < 3:  # the backfill is in when the count stops moving (live rounds add a few hundred)
            time.sleep(5)
            n = readings(url)
            stable = stable + 1 if n - last < 2000 else 0
            last = n
        how = "kept" if filled else f"backfill {args.backfill} in {time.perf_counter() - t0:.0f} s"
        print(f"history: {last:,} readings ({how})")
        run_pages(config, rt, args.repeat)
    finally:
        rt.stop()


def run_pages(config, rt, repeat: int) -> None:
    from ioc.web import create_app

    app = create_app(config, rt)
    from panels import domain, entity

    cases = []
    for d in config.catalog.domains:
        for r in RANGES:
            cases.append((f"domain {d.key} province {r}", domain.layout, {"domain": d.key, "range": r}))
            cases.append((f"domain {d.key} LNG {r}", domain.layout, {"domain": d.key, "area": "LNG", "range": r}))
            for view in domain.VIEWS.get(d.key, ()):  # each focus view is its own callback
                for area in (None, "LNG"):
                    args = {"domain": d.key, "area": area, "range": r, "lang": "vi", "view": view.metric}
                    cases.append((f"view {d.key} {view.metric} {area or 'province'} {r}", domain.view_body,
                                  {"args": args}))
    cases.append(("domain agriculture river_level 30d", domain.layout,
                  {"domain": "agriculture", "metric": "river_level", "range": "30d"}))
    kinds = {}
    for e in config.region.entities:
        kinds.setdefault(e.kind, e.id)
    for kind, entity_id in kinds.items():
        for r in RANGES:
            cases.append((f"entity {kind} {r}", entity.layout, {"entity_id": entity_id, "range": r}))
    times: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    for _ in range(repeat):
        for name, layout, kwargs in cases:
            with app.server.test_request_context("/"):
                t0 = time.perf_counter()
                body = json.dumps(layout(**kwargs), cls=plotly.utils.PlotlyJSONEncoder)
                times.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
                sizes[name] = len(body)
    every = [t for ts in times.values() for t in ts]
    print(f"{len(cases)} pages x {repeat}: p50 {pct(every, 50):.0f} ms, p95 {pct(every, 95):.0f} ms, "
          f"max {max(every):.0f} ms; payload max {max(sizes.values()) / 1024:.0f} KiB")
    for group in ("domain", "view", "entity"):
        mine = [t for n, ts in times.items() if n.startswith(group) for t in ts]
        print(f"  {group}: p50 {pct(mine, 50):.0f} ms, p95 {pct(mine, 95):.0f} ms")
    for r in RANGES:
        mine = [t for n, ts in times.items() if n.endswith(r) for t in ts]
        print(f"  range {r}: p50 {pct(mine, 50):.0f} ms, p95 {pct(mine, 95):.0f} ms")
    slow = sorted(times, key=lambda n: -pct(times[n], 95))[:6]
    for name in slow:
        print(f"  slowest: {name}: p95 {pct(times[name], 95):.0f} ms, {sizes[name] / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
