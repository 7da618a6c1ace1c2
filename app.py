"""IOC: run the operations center, or check its configuration.

    python app.py                 run everything (embedded PostgreSQL and MQTT unless configured)
    python app.py --check-config  validate the configuration and exit
Process roles (scale-out; docs/OPERATIONS.md), each against a shared database and broker:
    python app.py --ingest-only [--worker N] [--port P]   MQTT → database; --worker N: client id <id>-N and
                                  a shared subscription ($share/<group>/...), one copy of each message per group
    python app.py --alerts-only [--port P]  the alert engine (one leader), polling, rollups, brief, push feeds
    python app.py --ui-only [--workers K]   the web pages under gunicorn, K worker processes
    python app.py users add NAME --role operator|officer|leader|admin [--domains health,...]
    python app.py kiosk add "Wall 1"   a sign-in token for a wall screen (see ioc/auth/cli.py)
    python app.py brief --date YYYY-MM-DD [--lang vi|en] [--out FILE.pdf]
                                  build (or rebuild) the daily brief of a day, store it and write its PDF
    python app.py storage migrate-to-timescale --from OLD_URL
                                  copy a plain-PostgreSQL installation into the new TimescaleDB database
                                  named by IOC_DATABASE_URL, and verify that no row was lost
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from ioc.alerts.rules import load_rules
from ioc.config import ConfigError, load_config
from ioc.transports.contract import feed_parsers


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("users", "kiosk"):
        return admin_command(argv)
    parser = argparse.ArgumentParser(prog="app.py", description="IOC — intelligent operations center")
    parser.add_argument("--config-dir", help="configuration folder (default: $IOC_CONFIG_DIR or ./config)")
    parser.add_argument("--check-config", action="store_true", help="validate the configuration and exit")
    parser.add_argument("--no-simulator", action="store_true", help="do not start the built-in simulator")
    roles = parser.add_mutually_exclusive_group()
    roles.add_argument("--ingest-only", action="store_true",
                       help="an ingest worker: MQTT subscriber and database writer only")
    roles.add_argument("--alerts-only", action="store_true",
                       help="the alert engine and scheduled jobs (polling, rollups, brief) and push feeds")
    roles.add_argument("--ui-only", action="store_true", help="the web pages only, under gunicorn")
    parser.add_argument("--worker", type=int, metavar="N",
                        help="with --ingest-only: worker number (own client id, shared subscription)")
    parser.add_argument("--workers", type=int, metavar="K", help="with --ui-only: worker processes (default: cores)")
    parser.add_argument("--port", type=int, metavar="P",
                        help="with --ingest-only/--alerts-only: serve /healthz (and push feeds) on this port")
    commands = parser.add_subparsers(dest="command")
    brief = commands.add_parser("brief", help="build the daily brief of a day and write its PDF")
    brief.add_argument("--date", required=True, type=_day, help="the local day to brief, YYYY-MM-DD")
    brief.add_argument("--lang", choices=["vi", "en"], default=None, help="language (default: ui.language)")
    brief.add_argument("--out", help="PDF file to write (default: brief-<date>-<lang>.pdf)")
    brief.add_argument("--email", action="store_true", help="also mail it to brief.email recipients")
    storage = commands.add_parser("storage", help="storage administration (docs/OPERATIONS.md)")
    storage_commands = storage.add_subparsers(dest="storage_command", required=True)
    to_timescale = storage_commands.add_parser(
        "migrate-to-timescale", help="copy a plain-PostgreSQL installation into the TimescaleDB database "
                                     "of IOC_DATABASE_URL (new and empty), then verify it")
    to_timescale.add_argument("--from", dest="source", required=True, metavar="OLD_URL",
                              help="the plain-PostgreSQL database IOC used until now (IOC stopped)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Per-connection chatter of the embedded broker and per-run lines of the scheduler.
    for chatty in ("transitions", "amqtt", "waitress.queue", "apscheduler.executors", "apscheduler.scheduler"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        config = load_config(args.config_dir)
        from ioc.runtime import register_plugins

        register_plugins()
        feed_parsers(config)
        load_rules(config)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.check_config:
        print(f"configuration OK: {config.config_dir} — {len(config.areas)} areas, "
              f"{len(config.entities)} entities, {len(config.metrics)} metrics, {len(config.feeds)} feeds")
        return 0
    if args.command == "brief":
        return build_brief(config, args.date, args.lang or config.settings.ui.language, args.out, args.email)
    if args.command == "storage":
        return migrate_to_timescale(config, args.source)
    import psycopg

    from ioc.spool import SpoolLocked

    if args.worker is not None and not args.ingest_only:
        parser.error("--worker goes with --ingest-only")
    try:
        if args.ingest_only or args.alerts_only:
            return run_role(config, "ingest" if args.ingest_only else "alerts", args.worker, args.port)
        if args.ui_only:
            from ioc import wsgi

            return wsgi.serve(config, args.workers)
        return serve(config, with_simulator=not args.no_simulator)
    except (psycopg.OperationalError, SpoolLocked) as exc:
        # Start-up needs the database (migrations, catalog); a service manager restarts us. Once
        # running, an outage is absorbed by the spool instead.
        print(f"cannot start: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 3


def admin_command(argv: list[str]) -> int:
    from ioc.auth import cli

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return cli.run(config, argv)


def _day(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def build_brief(config, day, lang: str, out: str | None, send: bool) -> int:
    """The brief of one day with the same configuration (and embedded database) as the server."""
    from pathlib import Path

    from ioc.brief import service
    from ioc.brief_queries import brief_pdf
    from ioc.runtime import Runtime

    runtime = Runtime(config, with_simulator=False).open_storage()
    try:
        if not service.build(config, runtime.db, day, [lang]):
            print(f"no brief for {day}: the data began after that day, or late in it (under "
                  f"{service.FIRST_DAY_MIN_PCT:.0f} % of the day's readings)", file=sys.stderr)
            return 2
        path = Path(out or f"brief-{day}-{lang}.pdf")
        path.write_bytes(brief_pdf(runtime.db, day, lang))
        if send:
            if config.settings.brief.email is None:
                print("brief.email is not configured in ioc.yaml: not sent", file=sys.stderr)
                return 2
            service.email(config, runtime.db, day, lang)
        print(f"daily brief for {day} ({lang}) written to {path}", flush=True)
    finally:
        runtime.stop()
    return 0


def migrate_to_timescale(config, source_url: str) -> int:
    """Move every row of a plain-PostgreSQL installation into the TimescaleDB database of database.url."""
    from ioc.db import migrate, open_pool
    from ioc.storage_move import move

    url = config.settings.database.url
    if url is None:
        print("set IOC_DATABASE_URL to the new database, on a server that preloads TimescaleDB", file=sys.stderr)
        return 2
    pool = open_pool(url, 1, 2, name="move")
    try:
        if migrate(pool, config.settings.storage).path != "timescaledb":
            print("the target database is not on TimescaleDB: nothing copied (IOC_DATABASE_URL must name a new "
                  "database on a server that preloads TimescaleDB; a log line above says why when it was detected)",
                  file=sys.stderr)
            return 2
        report = move(source_url, pool, config.settings.storage)
    except RuntimeError as exc:
        print(f"not moved: {exc}", file=sys.stderr)
        return 2
    finally:
        pool.close()
    for table, rows in report.tables.items():
        print(f"{table}: {rows:,} rows")
    print(f"readings: {report.readings:,} rows; rollups materialized for every hour moved")
    if not report.ok:
        print("VERIFICATION FAILED — keep using the source database:", *report.differences, sep="\n  ",
              file=sys.stderr)
        return 1
    print("verified: every table and every day of readings match the source; point IOC at the new database")
    return 0


def run_role(config, role: str, worker: int | None = None, port: int | None = None) -> int:
    """One process of a split deployment (see ioc/runtime.py for what each role runs)."""
    import threading

    from ioc.runtime import Runtime

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    runtime = Runtime(config, with_simulator=False, role=role, worker=worker).start()
    server = None
    try:
        runtime.mqtt.connected.wait(30)
        if port is not None:
            server = _machine_server(runtime, config.settings.http.host, port)
        print(f"{role} running", flush=True)
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.close()
        runtime.stop()
    return 0


def _machine_server(runtime, host: str, port: int):
    """/healthz (and, for the alerts role, the push endpoint) on a bare Flask app: no pages, no sign-in."""
    import threading

    from flask import Flask
    from waitress import create_server

    app = Flask("ioc-" + runtime.role)
    runtime.register_http(app)
    server = create_server(app, host=host, port=port, threads=4)
    threading.Thread(target=server.run, name="http", daemon=True).start()
    return server


def _interrupt(*_args) -> None:
    raise KeyboardInterrupt


def serve(config, with_simulator: bool = True) -> int:
    from waitress import create_server

    from ioc.runtime import Runtime
    from ioc.web import create_app

    runtime = Runtime(config, with_simulator=with_simulator).start()
    try:
        app = create_app(config, runtime)
        runtime.register_http(app.server)
        http = config.settings.http
        # X-Forwarded-For reaches the app, which believes it only from http.trusted_proxies (ioc.auth.http).
        server = create_server(app.server, host=http.host, port=http.port, threads=http.threads,
                               clear_untrusted_proxy_headers=False)
        signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop is handled like Ctrl-C
        print(f"IOC is running at http://{http.host}:{http.port}  (Ctrl-C to stop)", flush=True)
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
    finally:
        runtime.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
