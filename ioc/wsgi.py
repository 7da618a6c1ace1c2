"""The web UI under gunicorn: K worker processes, each with its own Runtime(role="ui") and Dash app.

    python app.py --ui-only [--workers K]        gunicorn started from app.py (the systemd unit, compose)
    IOC_SECRET_KEY=... gunicorn 'ioc.wsgi:create_wsgi()' -k gthread -w K --threads 8 -b 127.0.0.1:8050

Why processes: Dash callbacks are Python, and one process runs Python on one core at a time (the GIL);
waitress (used by the all-in-one `python app.py`) is a single process. Each worker opens its own
database pool after the fork (a pool must never cross a fork).

Sessions are signed with IOC_SECRET_KEY, else with the key in var/secret-key (made on first start, mode
0600, kept across restarts). Every worker behind one proxy must sign with the same key, or a request landing
on another worker finds the user signed out: workers of one host share the file; UI hosts share
IOC_SECRET_KEY (or the file).
"""

from __future__ import annotations

import logging
import os

from flask import Flask
from gunicorn.app.base import BaseApplication

from ioc.auth.http import SECRET_ENV, secret_key
from ioc.config import Config, load_config

log = logging.getLogger(__name__)

_runtimes: list = []  # this worker's runtime, stopped when the worker exits


def build(config: Config) -> Flask:
    """One UI worker: storage for the pages' queries, the Dash app and its HTTP routes."""
    from ioc.runtime import Runtime
    from ioc.web import create_app

    runtime = Runtime(config, with_simulator=False, role="ui").start()
    _runtimes.append(runtime)
    app = create_app(config, runtime)
    runtime.register_http(app.server)
    return app.server


def create_wsgi() -> Flask:
    """Factory for `gunicorn 'ioc.wsgi:create_wsgi()'` (configuration from $IOC_CONFIG_DIR or ./config)."""
    config = load_config()
    share_secret_key(config)
    return build(config)


def share_secret_key(config: Config) -> None:
    """Without IOC_SECRET_KEY, the key kept in var/secret-key for every worker this server forks (they
    inherit the environment), so that a session is valid whichever worker answers, and after a restart."""
    if not os.environ.get(SECRET_ENV):
        os.environ[SECRET_ENV] = secret_key(config.config_dir)


def _stop_runtimes(*_args) -> None:
    while _runtimes:
        _runtimes.pop().stop()


class UiServer(BaseApplication):
    """gunicorn's arbiter with our options; the app is built in each worker after the fork."""

    def __init__(self, config: Config, workers: int, threads: int | None = None):
        http = config.settings.http
        self.ioc_config = config
        self.options = {
            "bind": f"{http.host}:{http.port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads or http.threads,
            "timeout": 60,
            "graceful_timeout": 20,
            # Longer than the walls' 5 s refresh (a connection closed just as a screen reuses it fails that
            # request) and than nginx's upstream keepalive_timeout (60 s), so that the proxy closes first.
            "keepalive": 75,
            "proc_name": "ioc-ui",
            "errorlog": "-",
            "loglevel": "info",
            "worker_exit": lambda server, worker: _stop_runtimes(),
            # gunicornc's control socket lives in $HOME (one path for every instance on the host): not used.
            "control_socket_disable": True,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return build(self.ioc_config)


def serve(config: Config, workers: int | None = None) -> int:
    share_secret_key(config)
    workers = workers or os.cpu_count() or 2
    http = config.settings.http
    print(f"IOC UI is running at http://{http.host}:{http.port} with {workers} workers (Ctrl-C to stop)",
          flush=True)
    UiServer(config, workers).run()
    return 0
