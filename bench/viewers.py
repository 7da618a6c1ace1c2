"""Viewers benchmark: 50 concurrent people on the production UI server (`app.py --ui-only`, gunicorn).

Setup, all on this machine: a fresh database; a data process (`app.py`, all-in-one, with the simulator
backfilling `--backfill` of history and publishing live rounds every 5 s through a throwaway Mosquitto
from deploy/mosquitto.conf); the UI server under test (`app.py --ui-only --workers K`).

What the viewers send is recorded once from real pages: Chromium (Debian's, driven by Playwright) signs in,
opens each page and stays long enough for its refresh intervals to fire; every Dash callback request body
is kept as the browser sent it. Pages are found, not listed: the wall screen is `/wall` when that page
exists (else the overview `/`), and officers open `/`, `/alerts`, `/feeds`, plus `/domain/health?area=…`
and `/entity/<id>` when those pages exist on this branch.

The load: ~2/3 wall screens (an operator session each) replaying the wall's refresh callbacks, each on the period
it was seen firing in the browser (5 s for live tiles, 15 s for charts on the overview),
~1/3 officers (a health officer's session each) opening pages in turn — the page's HTML, then its
callbacks in recorded order — with 2–5 s of reading between pages. Each viewer signs in with its own
session: GET /login, POST the form with its CSRF token; afterwards every callback carries the
`_csrf_token` cookie's value as X-CSRFToken. The session cookie is `Secure`; like a browser on
loopback, the client sends it over plain HTTP to 127.0.0.1.
Baseline, same run: the same requests from one viewer alone, before the load.

    python bench/viewers.py [--viewers 50] [--duration 60] [--workers K] [--backfill 6h]
Last line: `viewers: 50 concurrent, p95 <x> ms, errors <e>`
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import requests
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ioc.config import copy_config, load_config  # noqa: E402
from ioc.services import Mosquitto, free_port, wait_for_port  # noqa: E402

RUN = secrets.token_hex(3)
PASSWORD = "bench-viewers-" + RUN
WALL_USER, OFFICER_USER = "bench-wall", "bench-officer"
REFRESH = 5.0  # seconds: ui.refresh, the spread of the moments wall screens were switched on
CALLBACK = "/_dash-update-component"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]


def cookies(session: requests.Session) -> dict[str, str]:
    """The session's cookies as a header, `Secure` ones included: browsers send those to loopback over plain
    HTTP (127.0.0.1 is a secure context); requests' cookie jar would hold them back."""
    return {"Cookie": "; ".join(f"{c.name}={c.value}" for c in session.cookies)}


def database(server_url: str) -> tuple[str, str]:
    name = f"ioc_bench_viewers_{RUN}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(server_url)
    info["dbname"] = name
    return name, psycopg.conninfo.make_conninfo(**info)


def start(args: list[str], env: dict[str, str], ready: str, log_path: Path) -> subprocess.Popen:
    """A process of the product; returns once it prints `ready` (its log goes to log_path)."""
    log = log_path.open("w", encoding="utf-8")
    process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), *args], stdout=subprocess.PIPE, stderr=log,
                               text=True, env=env, cwd=ROOT)
    line = process.stdout.readline()
    if ready not in line:
        process.kill()
        raise RuntimeError(f"{args} did not start: {line!r}; see {log_path}")
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # keep the pipe drained
    return process


def wait_for_log(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text(encoding="utf-8", errors="replace"):
            return
        time.sleep(0.5)
    raise TimeoutError(f"{text!r} not in {path} after {timeout:.0f} s")


# --- which pages exist, and what browsers send on them -----------------------------------------------

def pages(config) -> tuple[str, list[str]]:
    """(the wall screen's page, the officer's pages) among the pages this branch has."""
    import dash

    from ioc.auth.http import _page_for
    from ioc.web import create_app

    create_app(config)  # fills dash.page_registry from panels/
    exists = lambda path: _page_for(path.split("?")[0]) is not None  # noqa: E731
    wall = "/wall" if exists("/wall") else "/"
    officer = [p for p in ("/", "/alerts", "/feeds") if exists(p)]
    health = [e for e in config.region.entities if config.kinds[e.kind].domain == "health"]
    area = next(code for code, (_, _, depth) in config.areas.items()
                if depth == 1 and any(config.entity_domain(e) == "health" for e in config.area_entities(code)))
    for path in (f"/domain/health?area={area}", f"/entity/{health[0].id}"):
        if exists(path):
            officer.append(path)
    assert dash.page_registry, "no pages registered"
    return wall, officer


def record(base: str, username: str, path: str, stay: float) -> tuple[list[str], list[tuple[str, float]]]:
    """Open `path` in Chromium signed in as `username`; return the callback bodies it sent while loading,
    and the periodic ones (triggered by an Interval) it sent while staying `stay` seconds, each with its
    period as observed (the page's intervals start when it loads)."""
    from playwright.sync_api import sync_playwright

    sent: list[tuple[float, str]] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                     args=BROWSER_ARGS)
        page = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN").new_page()
        page.goto(base + "/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)
        page.on("request", lambda r: sent.append((time.monotonic(), r.post_data or ""))
                if r.method == "POST" and urlsplit(r.url).path == CALLBACK else None)
        opened = time.monotonic()
        page.goto(base + path)
        page.wait_for_load_state("networkidle", timeout=60_000)
        page.wait_for_timeout(stay * 1000)
        browser.close()
    load, periodic = [], {}
    for at, body in sent:
        changed = json.loads(body).get("changedPropIds") or []
        if any(p.endswith(".n_intervals") for p in changed):
            output = json.loads(body)["output"]
            times, _ = periodic.get(output, ([], None))
            periodic[output] = ([*times, at], body)  # the latest tick's body
        else:
            load.append(body)
    ticks = []
    for times, body in periodic.values():
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)] or [times[0] - opened]
        ticks.append((body, max(1.0, round(statistics.median(gaps) * 2) / 2)))
    return load, ticks


# --- viewers -----------------------------------------------------------------------------------------

class Results:
    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def add(self, kind: str, ms: float, error: str | None = None) -> None:
        with self.lock:
            self.times.setdefault(kind, []).append(ms)
            if error:
                self.errors.append(f"{kind}: {error}")


def sign_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    form = session.get(base + "/login", timeout=30).text
    token = form.split('name="csrf_token" value="')[1].split('"')[0]
    answer = session.post(base + "/login", data={"csrf_token": token, "username": username, "password": PASSWORD,
                                                 "next": "/"}, allow_redirects=False, timeout=60,
                          headers=cookies(session))
    if answer.status_code != 302:
        raise RuntimeError(f"sign-in of {username} failed: {answer.status_code}")
    return session


def call(session: requests.Session, base: str, results: Results, kind: str, body: str | None = None,
         path: str | None = None) -> None:
    began = time.perf_counter()
    error = None
    try:
        if body is None:
            answer = session.get(base + path, timeout=30, headers=cookies(session), allow_redirects=False)
        else:
            answer = session.post(base + CALLBACK, data=body, timeout=30, headers={
                **cookies(session), "Content-Type": "application/json",
                "X-CSRFToken": session.cookies.get("_csrf_token", "")})
        if answer.status_code not in (200, 204):
            error = f"HTTP {answer.status_code} {answer.text[:120]!r}"
    except requests.RequestException as exc:
        error = type(exc).__name__
    results.add(kind, (time.perf_counter() - began) * 1000, error)


def wall(session, base, ticks: list[tuple[str, float]], results: Results, until: float) -> None:
    """A wall screen: each refresh callback on its own period, from a moment the screen was switched on."""
    phase = time.monotonic() + random.uniform(0, REFRESH)
    due = [phase + period for _, period in ticks]
    while (now := time.monotonic()) < until:
        i = min(range(len(ticks)), key=due.__getitem__)
        if due[i] > now:
            time.sleep(min(due[i] - now, until - now))
            continue
        call(session, base, results, "wall refresh (callback)", ticks[i][0])
        due[i] += ticks[i][1]


def officer(session, base, recorded: dict[str, list[str]], results: Results, until: float) -> None:
    time.sleep(random.uniform(0, 3))
    paths = list(recorded)
    random.shuffle(paths)
    i = 0
    while time.monotonic() < until:
        path = paths[i % len(paths)]
        i += 1
        call(session, base, results, "officer page (HTML)", path=path)
        for body in recorded[path]:
            call(session, base, results, "officer drill-down (callback)", body)
        time.sleep(random.uniform(2, 5))


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def summary(values: list[float]) -> str:
    return f"p50 {pct(values, 50):.0f} ms, p95 {pct(values, 95):.0f} ms, max {max(values):.0f} ms, n={len(values)}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60, help="seconds of measured load")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="UI worker processes")
    parser.add_argument("--backfill", default="6h", help="simulated history before the run")
    args = parser.parse_args()
    server_url = os.environ.get("IOC_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name, url = database(server_url)
    processes: list[subprocess.Popen] = []
    broker = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            broker = Mosquitto(tmp / "mosquitto").start()
            ui_port, data_port = free_port(), free_port()
            folder = copy_config(tmp / "config", {
                "database": {"url": url},
                "mqtt": {"url": broker.url, "topic_prefix": f"iocview{RUN}", "client_id": f"iocview-{RUN}"},
                "http": {"port": ui_port}, "brief": {"enabled": False}},
                feeds={"simulator": {"options": {"backfill": args.backfill, "interval": "5s"}}})
            config = load_config(folder, environ={})
            env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
            began = time.monotonic()
            processes.append(start(["--config-dir", str(folder)], {**env, "IOC_HTTP_PORT": str(data_port)},
                                   "IOC is running", tmp / "data.log"))
            wait_for_log(tmp / "data.log", "simulator backfilled", 900)
            print(f"data: simulator backfilled {args.backfill} in {time.monotonic() - began:.0f} s", flush=True)

            from ioc.auth import store as auth_store
            from ioc.db import open_pool

            pool = open_pool(url, 1, 2)
            auth_store.add_user(pool, WALL_USER, PASSWORD, "operator", [], "Wall screen", actor="bench")
            auth_store.add_user(pool, OFFICER_USER, PASSWORD, "officer", ["health"], "Health officer", actor="bench")
            with pool.connection() as conn:
                rows = conn.execute("SELECT count(*), count(DISTINCT series_id) FROM readings").fetchone()
            pool.close()

            processes.append(start(["--ui-only", "--workers", str(args.workers), "--config-dir", str(folder)], env,
                                   "IOC UI is running", tmp / "ui.log"))
            wait_for_port(ui_port, 60)
            base = f"http://127.0.0.1:{ui_port}"

            wall_path, officer_paths = pages(config)
            _, refresh = record(base, WALL_USER, wall_path, stay=32)  # the slowest refresh seen: 15 s
            recorded = {path: record(base, OFFICER_USER, path, stay=0.5)[0] for path in officer_paths}
            if not refresh:
                raise RuntimeError(f"no refresh callback recorded on {wall_path}")
            periods = ", ".join(f"{json.loads(b)['changedPropIds'][0].split('.')[0]} every {p:g} s"
                                for b, p in refresh)
            print(f"recorded: wall {wall_path}: {periods}; officer pages "
                  + ", ".join(f"{p} ({len(b)} callbacks)" for p, b in recorded.items()), flush=True)

            # Baseline: one viewer alone, the same requests, three times each.
            baseline = Results()
            session = sign_in(base, OFFICER_USER)
            wall_session = sign_in(base, WALL_USER)
            for _ in range(3):
                for body, _ in refresh:
                    call(wall_session, base, baseline, "wall refresh (callback)", body)
                for path, bodies in recorded.items():
                    call(session, base, baseline, "officer page (HTML)", path=path)
                    for body in bodies:
                        call(session, base, baseline, "officer drill-down (callback)", body)

            walls = round(args.viewers * 2 / 3)
            sessions = [sign_in(base, WALL_USER if i < walls else OFFICER_USER) for i in range(args.viewers)]
            results = Results()
            until = time.monotonic() + args.duration
            threads = [threading.Thread(target=wall, args=(s, base, refresh, results, until)) for s in sessions[:walls]]
            threads += [threading.Thread(target=officer, args=(s, base, recorded, results, until))
                        for s in sessions[walls:]]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        if broker:
            broker.stop()
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    every = [ms for values in results.times.values() for ms in values]
    print(f"setup: {args.workers} UI workers (gunicorn gthread, {config.settings.http.threads} threads each); "
          f"database {rows[0]:,} readings in {rows[1]:,} series; {os.cpu_count()} cores shared with the data process, "
          "PostgreSQL, Mosquitto and this client")
    for kind, values in sorted(baseline.times.items()):
        print(f"baseline, one viewer alone — {kind}: {summary(values)}")
    print(f"load: {walls} wall screens ({wall_path}) + {args.viewers - walls} officers "
          f"({', '.join(recorded)}), {args.duration:.0f} s, {len(every) / args.duration:.1f} requests/s")
    for kind, values in sorted(results.times.items()):
        print(f"under load — {kind}: {summary(values)}")
    for error in results.errors[:10]:
        print(f"error: {error}")
    print(f"viewers: {args.viewers} concurrent, p95 {pct(every, 95):.0f} ms, errors {len(results.errors)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
